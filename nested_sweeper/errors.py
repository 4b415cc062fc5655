"""The project's one error type: where the problem is, what it is, and how to fix it."""

from __future__ import annotations


class SweepError(ValueError):
    """A problem in a sweep file or a sweep's settings.

    Rendered on one line as ``FILE: KEY: MESSAGE; FIX`` (missing parts left out), e.g.
    ``conf/sweep/x.yaml: sweep.parameters.trainer.lr: min (0.1) > max (0.01); swap them``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.key = key
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.key) if p]
        text = ": ".join([*parts, self.message])
        return f"{text}; {self.fix}" if self.fix else text

    def located(self, *, file: str | None = None, key_prefix: str | None = None) -> SweepError:
        """The same error with the file filled in and the key placed under ``key_prefix``."""
        key = self.key
        if key_prefix:
            key = f"{key_prefix}.{key}" if key else key_prefix
        return SweepError(self.message, file=self.file or file, key=key, fix=self.fix)


class SweepWarning(UserWarning):
    """A sweep file that works but probably does not do what its author meant."""
