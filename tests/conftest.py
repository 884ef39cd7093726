"""Session set-up shared by every test file."""

from __future__ import annotations

import signal


def pytest_configure(config) -> None:
    """Ctrl-C as Python has it by default, also when the run was started with SIGINT ignored
    (a shell's background job is): the interrupt tests send SIGINT to the commands they start,
    which inherit an ignored SIGINT across exec and would then never be interrupted."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
