"""Every default of cloudsuite-sync in one place, each with the reason for its value.

Other modules import these names; no magic numbers elsewhere. Sections are owned by the area they tune.
"""

from __future__ import annotations

# --- Storage: queues, tables, blobs -------------------------------------------------------------
PAGES_QUEUE = "cloudsuite-pages"  # poll -> transform; one message per CloudSuite page (or part of one)
WRITES_QUEUE = "dataverse-writes"  # transform -> write; one message per Dataverse request-sized batch
POISON_SUFFIX = "-poison"  # what the Functions host appends after maxDequeueCount failures
QUEUE_MESSAGE_MAX_BYTES = 64 * 1024  # Azure Storage queue limit, measured on the encoded (base64) text
QUEUE_MESSAGE_MAX_RAW_BYTES = QUEUE_MESSAGE_MAX_BYTES * 3 // 4  # base64 inflates 3 bytes to 4 characters
STATE_TABLE = "syncstate"  # watermarks, run locks, record hashes, written batch ids
AUDIT_TABLE = "syncaudit"  # the audit trail (runs, pages, batches, record outcomes)
DEADLETTER_TABLE = "syncdeadletter"  # records and messages that need a person or a replay
PAYLOAD_CONTAINER = "sync-payloads"  # claim-check blobs for batches too large for one queue message

# --- Schedules (NCRONTAB, six fields, UTC) -------------------------------------------------------
POLL_SCHEDULE = "0 */15 * * * *"  # every 15 min: fresh enough for master data, cheap on ION quotas
REPLAY_SCHEDULE = "0 0 * * * *"  # hourly drain of poison queues; transient faults have usually cleared
REPLAY_MAX_ATTEMPTS = 3  # after this many replays a message is parked for a person to look at

# --- HTTP ------------------------------------------------------------------------------------------
CONNECT_TIMEOUT_S = 10.0  # a healthy gateway accepts a TLS connection in well under a second
READ_TIMEOUT_S = 75.0  # a little above the ION gateway's 60 s backend timeout, so we see its 504
HTTP_MAX_RETRIES = 5  # transient failures retried per request before the queue takes over
HTTP_BACKOFF_BASE_S = 0.5  # first back-off step; doubles per attempt, with full jitter
HTTP_BACKOFF_MAX_S = 60.0  # never sleep longer than this per attempt inside one invocation

# --- CloudSuite (ION API) ------------------------------------------------------------------------
# (owned by shared/cloudsuite)

# --- Dataverse -------------------------------------------------------------------------------------
# (owned by shared/dataverse)

# --- Pipeline --------------------------------------------------------------------------------------
# (owned by the pipeline modules)
