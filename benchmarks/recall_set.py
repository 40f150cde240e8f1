"""A small labelled recall set for file search: eight documents and 32 questions.

Each question names the document that answers it and a phrase of the answer; a result counts
as a hit when it comes from that document and its chunk text contains the phrase. The
questions are worded as a user would ask them, not copied from the text (some share only one
or two words with their answer), so lexical search does not find all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DOCUMENTS", "QUESTIONS", "Question"]


@dataclass(frozen=True)
class Question:
    text: str
    document: str
    answer: str  # a phrase the answering chunk contains


DOCUMENTS: dict[str, str] = {
    "espresso.md": """# Harbor 3 espresso machine: care guide

Descale the boiler every 200 shots, or once a month in hard-water areas. Use a citric acid
solution of 20 grams per litre and run it through the group head and the steam wand.

Purge the steam wand for two seconds before and after every milk drink, then wipe it with a
damp cloth. Milk left on the wand bakes into a crust that blocks the tip.

Backflush the group head with a blind basket and detergent at the end of every working day.
Replace the group gasket every six months; a worn gasket leaks around the portafilter.

The drip tray holds 1.2 litres. The red float rises when it is full.

If the pump hums but no water flows, the water tank is probably not seated: lift it and press
it down until it clicks. If the machine shows error E4, the boiler thermostat has tripped and
the machine must cool down for thirty minutes before it is switched on again.
""",
    "refunds.txt": """Returns and refunds policy

Customers may return any unused item within 30 days of delivery for a full refund. Items must
be in their original packaging, with the receipt or order number.

Refunds go back to the original payment method within 5 business days after the warehouse
receives the parcel. Gift cards are refunded as store credit only.

Opened software, personalised items and perishable food cannot be returned.

Shipping costs are refunded only when the item arrived damaged or was not what was ordered.
Customers in the European Union may also cancel any order within 14 days without giving a
reason, under the Consumer Rights Directive.

Exchanges for a different size are free of charge once per order.
""",
    "onboarding.md": """# First week at Northwind

Your laptop is waiting at the front desk on your first morning; bring a photo ID. The
IT help desk is on the second floor, room 214, open from 8 am to 6 pm.

Set up two-factor authentication on your account before Friday, using the authenticator
app; accounts without it are locked after seven days.

Payroll runs on the 25th of each month. Submit your bank details in the HR portal during your
first week, or your first salary is paid by cheque.

Every new hire gets a buddy from another team for the first month. Lunch on Wednesday is with
the whole department.

Expense claims need a photo of the receipt and are approved by your manager within a week.
""",
    "solar.txt": """Installing the SunPeak 400 W panel

Mount the panels facing south in the northern hemisphere, tilted at an angle close to your
latitude. A tilt of 30 to 40 degrees suits most of Europe.

Keep at least 10 centimetres of air between the panel and the roof so that it stays cool:
output drops by about 0.4 percent for every degree above 25 degrees Celsius.

Wire panels in series to raise the voltage, in parallel to raise the current. The inverter
accepts up to 500 volts of open-circuit voltage; never exceed it in winter, when voltage rises.

Clean the glass with water and a soft brush twice a year. Do not use a pressure washer.

The warranty covers 25 years of power output at 80 percent of the rated power or better.
""",
    "bread.md": """# Sourdough at home

Feed the starter with equal weights of flour and water and leave it at room temperature until
it doubles, usually four to eight hours. A starter that smells of nail varnish is hungry.

Mix 500 grams of bread flour with 350 grams of water and rest it for an hour before adding
100 grams of active starter and 10 grams of salt. This rest is called autolyse.

Fold the dough every thirty minutes for the first two hours, then let it rise until it has
grown by half. Shape it, and proof it overnight in the fridge.

Bake in a preheated cast-iron pot at 250 degrees Celsius, 20 minutes with the lid on and 25
minutes without it. The loaf is done when it sounds hollow when tapped underneath.

Let the bread cool for at least an hour before slicing, or the crumb turns gummy.
""",
    "security.txt": """Incident response runbook

When a laptop is lost or stolen, report it to security within one hour by calling the 24-hour
line, extension 5555. Security wipes the device remotely and revokes its certificates.

Suspected phishing emails go to phish@northwind.example as attachments; never click links
in them. The security team answers within four working hours.

Passwords must be at least 14 characters long and are never reused across systems. A
password manager is provided to every employee.

Production database access requires an approved ticket and expires automatically after eight
hours. All sessions are recorded.

After a confirmed breach, the data protection officer informs the regulator within 72 hours.
""",
    "bike.md": """# Commuter bike maintenance

Check the tyre pressure every week: 80 psi for road tyres, 40 psi for hybrid tyres. Soft tyres
puncture easily and make pedalling harder.

Lubricate the chain every 300 kilometres, or after riding in the rain. Wipe off the excess oil,
which would otherwise collect grit.

Brake pads are worn when the grooves on them disappear; replace them at once. Disc brakes
squeal when the rotor is contaminated with oil; clean it with isopropyl alcohol.

A chain stretches with use. Replace it when a chain checker shows 0.5 percent wear, before it
wears out the cassette.

Store the bike indoors in winter: road salt corrodes the drivetrain.
""",
    "telescope.txt": """Getting started with the Orion 130 reflector

Let the telescope cool outside for 30 minutes before observing, so the mirror reaches the air
temperature and images stop shimmering.

Align the finder scope in daylight on a distant chimney or pole, never on the Sun. Looking at
the Sun through the telescope causes instant, permanent eye damage.

Start with the 25 mm eyepiece, which gives 26 times magnification and the widest view. The
10 mm eyepiece gives 65 times and suits the Moon and the planets.

Collimate the mirrors when stars look like comets: adjust the three screws at the back of the
primary mirror until the reflections are centred.

Saturn's rings are visible at 40 times magnification or more on a steady night.
""",
}

QUESTIONS: tuple[Question, ...] = (
    Question("How often should I descale my espresso machine?", "espresso.md", "every 200 shots"),
    Question("What does error E4 mean on the coffee machine?", "espresso.md", "thermostat"),
    Question("The pump hums but nothing comes out", "espresso.md", "not seated"),
    Question("When do I change the gasket?", "espresso.md", "every six months"),
    Question("How much citric acid per litre?", "espresso.md", "20 grams per litre"),
    Question("How long do I have to send something back?", "refunds.txt", "30 days"),
    Question("When will my money be returned?", "refunds.txt", "5 business days"),
    Question("Can I return personalised products?", "refunds.txt", "personalised items"),
    Question("Do I get the postage back?", "refunds.txt", "Shipping costs"),
    Question("What is the EU cancellation period?", "refunds.txt", "14 days"),
    Question("Where do I collect my computer on day one?", "onboarding.md", "front desk"),
    Question("When is salary paid?", "onboarding.md", "25th of each month"),
    Question("What happens without 2FA?", "onboarding.md", "locked after seven days"),
    Question("Where is IT support?", "onboarding.md", "room 214"),
    Question("Which way should solar panels face?", "solar.txt", "facing south"),
    Question("How does heat affect panel output?", "solar.txt", "0.4 percent"),
    Question("What is the maximum inverter voltage?", "solar.txt", "500 volts"),
    Question("How long is the panel warranty?", "solar.txt", "25 years"),
    Question("How do I clean the panels?", "solar.txt", "soft brush"),
    Question("What temperature to bake sourdough?", "bread.md", "250 degrees"),
    Question("What is autolyse?", "bread.md", "autolyse"),
    Question("My starter smells like acetone", "bread.md", "nail varnish"),
    Question("Why is my bread gummy inside?", "bread.md", "gummy"),
    Question("I lost my laptop, what do I do?", "security.txt", "within one hour"),
    Question("Minimum password length?", "security.txt", "14 characters"),
    Question("How do I report a phishing email?", "security.txt", "phish@northwind.example"),
    Question("How fast must a breach be reported to the regulator?", "security.txt", "72 hours"),
    Question("What pressure should road bike tyres have?", "bike.md", "80 psi"),
    Question("How often to oil the chain?", "bike.md", "every 300 kilometres"),
    Question("Why do my disc brakes squeal?", "bike.md", "contaminated with oil"),
    Question("Which eyepiece shows Saturn's rings?", "telescope.txt", "40 times"),
    Question("Why are the stars blurry and shimmering?", "telescope.txt", "cool outside"),
)
