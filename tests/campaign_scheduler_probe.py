"""A ``dask scheduler --preload`` for the external-cluster tests: records what each submitted task carries.

For every task a client submits, the scheduler-side plugin keeps the task's
function name, the type names of its arguments, the size of the whole task
pickled (cloudpickle), the ``uri`` of a dict argument (a campaign index
row) and the sizes of what it depends on (stored ``nbytes``, or the pickled
spec of a dependency not computed yet).  A test
reads them back with ``client.run_on_scheduler(probe_records)``: a task that
carried pixels would show an ndarray or bytes argument and a size of
hundreds of kilobytes.
"""

from __future__ import annotations

from distributed import SchedulerPlugin

NAME = "campaign-probe"


class TaskProbe(SchedulerPlugin):
    """Keeps one record per submitted task (see the module docstring)."""

    name = NAME

    def __init__(self) -> None:
        self.records: list[dict] = []

    def update_graph(self, scheduler, *, keys, **kwargs) -> None:
        import cloudpickle

        for key in keys:
            ts = scheduler.tasks.get(key)
            spec = getattr(ts, "run_spec", None)
            if spec is None:
                continue
            args = list(getattr(spec, "args", ()))
            values = [getattr(a, "value", a) for a in args]  # literal arguments arrive wrapped
            row = next((v for v in values if isinstance(v, dict)), {})
            self.records.append({
                "key": str(key),
                "func": getattr(getattr(spec, "func", None), "__name__", ""),
                "arg_types": [type(v).__name__ for v in values],
                "task_bytes": len(cloudpickle.dumps(spec)),
                "uri": row.get("uri", ""),
                "dependency_nbytes": [_size(scheduler.tasks[d], cloudpickle) for d in spec.dependencies
                                      if d in scheduler.tasks],
            })


def _size(ts, cloudpickle) -> int:
    # In memory: its stored size; not computed yet (the index is a task): its spec pickled, data included.
    return ts.nbytes if ts.nbytes >= 0 else len(cloudpickle.dumps(ts.run_spec))


def probe_records(dask_scheduler) -> list[dict]:
    """The records kept so far (run with ``client.run_on_scheduler``)."""
    return list(dask_scheduler.plugins[NAME].records)


def dask_setup(scheduler) -> None:
    scheduler.add_plugin(TaskProbe(), name=NAME)
