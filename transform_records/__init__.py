"""Queue trigger: map one page of CloudSuite records to Dataverse rows and enqueue size-bounded write batches."""

import azure.functions as func

from shared.config import get_settings
from shared.defaults import PAGES_QUEUE
from shared.pipeline.transform import handle_page_message

transform_records_bp = func.Blueprint()


@transform_records_bp.function_name("transform_records")
@transform_records_bp.queue_trigger(arg_name="msg", queue_name=PAGES_QUEUE, connection="AzureWebJobsStorage")
def transform_records(msg: func.QueueMessage) -> None:
    handle_page_message(get_settings(), msg.get_body(), dequeue_count=msg.dequeue_count or 1)
