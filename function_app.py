"""The Azure Functions app: a registry of one blueprint per function folder, nothing else."""

import azure.functions as func

from poll_cloudsuite import poll_cloudsuite_bp
from replay_deadletter import replay_deadletter_bp
from shared.redaction import install_log_redaction
from transform_records import transform_records_bp
from write_dataverse import write_dataverse_bp

install_log_redaction()

app = func.FunctionApp()
app.register_functions(poll_cloudsuite_bp)
app.register_functions(transform_records_bp)
app.register_functions(write_dataverse_bp)
app.register_functions(replay_deadletter_bp)
