"""Dataverse writer: upsert accounts and contacts into Dynamics 365 Sales by alternate key.

How the pipeline uses it::

    from shared.dataverse import DataverseConfig, DataverseWriter, Status, UpsertRecord, plan_requests, provision

    config = DataverseConfig.from_section(connection.dataverse, where=f"connection '{connection.name}'")
    secret = secrets.get(config.client_secret_name) if config.client_secret_name else None  # caller resolves
    writer = DataverseWriter(config, secret=secret)      # once per connection per process; thread-safe

    record = UpsertRecord(table="contact", key={"cssync_sourcekey": "M3-100-SUP1-01"},
                          payload={"lastname": "de Vries"}, ref="job/page/3", parent_key="M3-100-SUP1")

    # transform step: pre-pack write batches with the writer's own exact-byte measurement
    plan = writer.plan("account", records)                # or plan_requests(table, records, config.limits, ...)
    plan.batches   -> list[list[UpsertRecord]]: each is one request (<= 256 KB body, <= 1000 operations)
    plan.rejected  -> [(record, RecordOutcome)]: FAILED (bad key, too large) or SUPERSEDED (a later duplicate)

    # write step
    outcomes = writer.upsert(records)    # list[RecordOutcome], one per record, in input order
    writer.requests_sent                 # HTTP attempts so far (for the batch's audit row)

    RecordOutcome(ref, table, status, record_id, code, message, retryable)
      status: created | updated (known in $batch mode, with record_id) | upserted (UpsertMultiple: written,
              created-or-updated unknown) | superseded | failed (dead-letter: Dataverse's code and message, or
              cssync.invalid_key / cssync.record_too_large / cssync.invalid_record for our own checks)
              | deferred (retryable: a contact whose parent account does not exist yet; send again later)
    raises TransientError / ThrottledError(retry_after) (retry the whole call later; it is idempotent),
    AuthError / ConfigError / DataverseError (FatalError: configuration or access is wrong).

    report = provision(config, create=True, secret=secret)   # key columns + alternate keys, waits for Active
    report.ok, report.changed, report.summary()

What is shared per environment inside a process (service protection counts per app user): the 429 pause gate
and the pace it learns, the concurrency limit (x-ms-dop-hint within the lowest configured cap), the in-flight
keys, the UpsertMultiple capability (sdkmessagefilters, re-checked hourly) and the credential.

Modules: ``config`` (the ``dataverse`` section), ``auth`` (azure-identity credentials), ``client`` (Web API
transport, errors, retries), ``flow`` (429 gate and pace, concurrency, in-flight keys), ``keys`` (key escaping
and validation), ``packing`` (exact-byte request planning), ``multipart`` ($batch format), ``writer`` (upsert
and failure isolation), ``provision`` (metadata).
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
