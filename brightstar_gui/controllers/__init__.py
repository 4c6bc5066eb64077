"""The viewer's controller (Qt-free): owns the model, the open exposure and the jobs.

See :mod:`brightstar_gui.controllers._viewer` for the request cycle.
"""

from ._runner import JobRunner, SyncRunner
from ._viewer import DATASET_CHANNELS, TASK_TITLES, StartOptions, ViewerController

__all__ = ["DATASET_CHANNELS", "JobRunner", "StartOptions", "SyncRunner", "TASK_TITLES", "ViewerController"]
