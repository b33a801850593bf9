"""Replay dead-lettered work: an HTTP trigger (function key) with filters, and a timer draining poison queues.

No queue trigger on a ``*-poison`` queue: the host gives such queues no poison queue of their own.
"""

import json

import azure.functions as func

from shared.config import REPLAY_SCHEDULE, get_settings
from shared.errors import ConfigError
from shared.pipeline.replay import ReplayFilter, drain_poison_queues, replay

replay_deadletter_bp = func.Blueprint()


@replay_deadletter_bp.function_name("replay_deadletter_http")
@replay_deadletter_bp.route(route="replay", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def replay_deadletter_http(req: func.HttpRequest) -> func.HttpResponse:
    try:
        selection = ReplayFilter.from_params(dict(req.params))
    except ConfigError as exc:
        return func.HttpResponse(json.dumps({"error": exc.message}), status_code=400, mimetype="application/json")
    report = replay(get_settings(), selection)
    return func.HttpResponse(json.dumps(report.as_dict()), mimetype="application/json")


@replay_deadletter_bp.function_name("replay_deadletter_timer")
@replay_deadletter_bp.timer_trigger(arg_name="timer", schedule=f"%{REPLAY_SCHEDULE}%", run_on_startup=False,
                                    use_monitor=True)
def replay_deadletter_timer(timer: func.TimerRequest) -> None:
    drain_poison_queues(get_settings())
