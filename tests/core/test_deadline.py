import pytest

from runflow import Deadline


def test_deadline_assumes_the_server_clock_is_up_to_a_second_ahead() -> None:
    # created_at 1000 (server), seen locally at 5000.25; expires 600 s after creation.
    deadline = Deadline.from_server_time(
        1600, server_time=1000, local_time=5000.25, safety_margin=2
    )
    assert deadline.submit_by == pytest.approx(5000.25 + 599 - 2)
    assert deadline.time_left(5100.25) == pytest.approx(497)
    assert deadline.until_expiry(5100.25) == pytest.approx(499)


def test_handler_stops_at_its_own_timeout_or_the_deadline_whichever_is_first() -> None:
    deadline = Deadline(expires_at=0, submit_by=100.0)
    assert deadline.handler_stop_at(10.0, timeout=None) == 100.0
    assert deadline.handler_stop_at(10.0, timeout=5) == 15.0
    assert deadline.handler_stop_at(98.0, timeout=5) == 100.0


def test_negative_margin_is_refused() -> None:
    with pytest.raises(ValueError, match="safety_margin"):
        Deadline.from_server_time(1, server_time=0, local_time=0, safety_margin=-1)
