"""Queue trigger: upsert one write batch into Dataverse and record outcomes, state and audit rows."""

import azure.functions as func

from shared.config import get_settings
from shared.defaults import WRITES_QUEUE
from shared.pipeline.write import handle_write_message

write_dataverse_bp = func.Blueprint()


@write_dataverse_bp.function_name("write_dataverse")
@write_dataverse_bp.queue_trigger(arg_name="msg", queue_name=WRITES_QUEUE, connection="AzureWebJobsStorage")
def write_dataverse(msg: func.QueueMessage) -> None:
    handle_write_message(get_settings(), msg.get_body(), dequeue_count=msg.dequeue_count or 1)
