// The page: tabs (Assistants, Chat, Inspector) and the API key prompt when the server wants one.

import { ApiError, apiKey, get, setApiKey } from "./api.js";
import { AssistantsView } from "./assistants.js";
import { ChatView } from "./chat.js";
import { showError } from "./dom.js";
import { InspectorView } from "./inspector.js";

const chat = new ChatView(document.getElementById("panel-chat"));
const inspector = new InspectorView(document.getElementById("panel-inspector"));
const assistants = new AssistantsView(document.getElementById("panel-assistants"), {
  onChange(list) {
    chat.setAssistants(list);
    inspector.setAssistants(list);
  },
});

const tabs = [...document.querySelectorAll('[role="tab"]')];

function select(tab) {
  for (const other of tabs) {
    const chosen = other === tab;
    other.setAttribute("aria-selected", String(chosen));
    other.tabIndex = chosen ? 0 : -1;
    document.getElementById(other.getAttribute("aria-controls")).hidden = !chosen;
  }
  if (tab.id === "tab-inspector") inspector.load();
  if (tab.id === "tab-chat") chat.refreshThreads().catch(showError);
}

tabs.forEach((tab, i) => {
  tab.addEventListener("click", () => select(tab));
  tab.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = tabs[(i + step + tabs.length) % tabs.length];
    next.focus();
    select(next);
  });
});

const dialog = document.getElementById("key-dialog");
const keyForm = document.getElementById("key-form");
const keyInput = document.getElementById("key-input");
const keyMessage = document.getElementById("key-message");

keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey(keyInput.value.trim());
  dialog.close();
  start();
});
document.getElementById("key-button").addEventListener("click", () => askKey("Enter the server's API key."));

function askKey(message) {
  keyMessage.textContent = message;
  keyInput.value = apiKey();
  if (!dialog.open) dialog.showModal();
  keyInput.focus();
}

async function start() {
  try {
    await get("/assistants?limit=1");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      return askKey(apiKey() ? "That key was refused. Enter the server's API key." : "This server wants an API key.");
    }
    return showError(error);
  }
  showError(null);
  await assistants.load().catch(showError);
  await chat.refreshThreads().catch(showError);
}

start();
