"""A hold for the tests that signal a running command (``held.py`` starts them): Python imports this
module at start-up when this folder is on PYTHONPATH, and with ``EDGEDIGITS_TEST_HOLD`` set, a process
that reaches the point it names says so on stderr ("held at ...") and sleeps there, so the test's signal
meets a run that is certainly still running, at a known point. torchrun's workers inherit it too.

``train:EPOCH:STEP``: a training process, after STEP steps of epoch EPOCH (its checkpoint then holds
epoch EPOCH-1). ``export:N``: an export, after its N-th artifact is staged.
"""

import os
import signal
import sys
import time

HOLD_SECONDS = 600  # only a safety net: the test signals long before; then the command goes on


def _hold(where: str) -> None:
    sys.stderr.write(f"held at {where}\n")
    sys.stderr.flush()
    time.sleep(HOLD_SECONDS)  # a signal ends it (Ctrl-C: KeyboardInterrupt from here)


def _hold_training(epoch_at: int, step_at: int) -> None:
    from edgedigits.train.progress import Progress

    start, advance = Progress.start, Progress.advance

    def held_start(self, phase, epoch, epochs, steps):
        self.held_epoch, self.held_step = epoch, 0
        start(self, phase, epoch, epochs, steps)

    def held_advance(self, images, loss=None):
        advance(self, images, loss)
        self.held_step += 1
        if (self.held_epoch, self.held_step) == (epoch_at, step_at):
            _hold(f"epoch {epoch_at} step {step_at}")

    Progress.start, Progress.advance = held_start, held_advance


def _hold_export(artifacts: int) -> None:
    from edgedigits.export import exporter

    export = exporter.export

    def held_export(config, log=print):
        staged = 0

        def held_log(line):
            nonlocal staged
            log(line)
            if line.startswith("exported "):
                staged += 1
                if staged == artifacts:
                    _hold(f"artifact {artifacts}")

        return export(config, held_log)

    exporter.export = held_export


_spec = os.environ.get("EDGEDIGITS_TEST_HOLD", "")
if _spec:
    # Ctrl-C as in a terminal, even when the tests run where SIGINT is ignored (a background job of a
    # non-interactive shell, nohup): Python keeps an inherited SIG_IGN, and the signal would be lost
    signal.signal(signal.SIGINT, signal.default_int_handler)
if _spec.startswith("train:"):
    _hold_training(*(int(v) for v in _spec.split(":")[1:]))
elif _spec.startswith("export:"):
    _hold_export(int(_spec.split(":")[1]))
