"""Timer trigger: poll every configured CloudSuite connection and enqueue pages of changed records."""

import azure.functions as func

from shared.config import POLL_SCHEDULE, get_settings
from shared.pipeline.poll import run_poll

poll_cloudsuite_bp = func.Blueprint()


@poll_cloudsuite_bp.function_name("poll_cloudsuite")
@poll_cloudsuite_bp.timer_trigger(arg_name="timer", schedule=f"%{POLL_SCHEDULE}%", run_on_startup=False,
                                  use_monitor=True)
def poll_cloudsuite(timer: func.TimerRequest) -> None:
    run_poll(get_settings(), past_due=timer.past_due)
