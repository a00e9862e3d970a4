"""The one error the language raises: where in the text, and why."""


class ExpressionError(ValueError):
    """An expression that cannot be compiled: the 0-based character offset of the fault and a reason a person reads.

    ``length`` is how many characters the fault spans (at least 1), for an editor to underline.
    """

    def __init__(self, position: int, reason: str, *, length: int = 1):
        super().__init__(f"position {position}: {reason}")
        self.position = position
        self.reason = reason
        self.length = max(length, 1)

    def as_dict(self) -> dict:
        return {"position": self.position, "reason": self.reason, "length": self.length}
