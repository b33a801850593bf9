"""Dataverse writer: upsert accounts and contacts into Dynamics 365 Sales by alternate key.

How the pipeline uses it::

    from shared.dataverse import DataverseConfig, DataverseWriter, UpsertRecord, plan_requests, provision

    config = DataverseConfig.from_section(connection.dataverse, where=f"connection '{connection.name}'")
    secret = secrets.get(config.client_secret_name) if config.client_secret_name else None  # caller resolves
    writer = DataverseWriter(config, secret=secret)          # once per connection per process; thread-safe

    # transform step: pre-pack write batches with the writer's own measurement
    plan = plan_requests("account", records, config.limits, mode=config.mode,
                         parent_key_column=config.key_column("account"))
    plan.batches   -> list[list[UpsertRecord]], each fits one request (<= 256 KB body, <= 1000 operations)
    plan.rejected  -> [(record, RecordOutcome)]: bad key / too large (FAILED) or SUPERSEDED duplicates

    # write step
    outcomes = writer.upsert(records)   # list[RecordOutcome], one per record, in input order

    RecordOutcome(ref, table, status, record_id, code, message, retryable)
      status: created | updated | upserted (written, UpsertMultiple does not say which) | superseded
              | failed (dead-letter with code + message; Dataverse's own code, or cssync.* for our checks)
              | deferred (retryable=True: a contact whose parent account does not exist yet; retry later)
    raises TransientError / ThrottledError (retry the whole call later; it is idempotent), AuthError /
    ConfigError / DataverseError (FatalError: stop the connection).

    report = provision(config, create=True, secret=secret)   # key columns + alternate keys, Active
    report.ok, report.changed, report.summary()

Modules: ``config`` (the ``dataverse`` section), ``auth`` (azure-identity credentials), ``client`` (Web API
transport, errors, retries), ``flow`` (429 gate, concurrency, in-flight keys), ``keys`` (key escaping and
validation), ``packing`` (exact-byte request planning), ``multipart`` ($batch format), ``writer`` (upsert and
failure isolation), ``provision`` (metadata).
"""

from shared.dataverse.client import DataverseError
from shared.dataverse.config import DataverseConfig
from shared.dataverse.model import Limits, Mode, RecordOutcome, Status, UpsertRecord
from shared.dataverse.packing import RequestPlan, plan_requests
from shared.dataverse.provision import ProvisionReport, TableReport, provision
from shared.dataverse.writer import DataverseWriter

__all__ = [
    "DataverseConfig",
    "DataverseError",
    "DataverseWriter",
    "Limits",
    "Mode",
    "ProvisionReport",
    "RecordOutcome",
    "RequestPlan",
    "Status",
    "TableReport",
    "UpsertRecord",
    "plan_requests",
    "provision",
]
