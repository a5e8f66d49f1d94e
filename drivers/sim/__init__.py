"""The simulated board's driver: ``SimBoardDriver`` speaks the board link to ``callbox-sim``."""

from drivers.sim.board import SimBoardDriver

__all__ = ["SimBoardDriver"]
