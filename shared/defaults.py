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
TABLE_TRANSACTION_MAX_OPS = 100  # Table storage limit on operations in one entity-group transaction
TABLE_QUERY_PAGE = 1000  # Table storage returns at most 1,000 entities per response
POLL_LOCK_TTL_S = 15 * 60  # longer than functionTimeout (10 min): a crashed run's lock frees itself
PAGE_MESSAGE_RECORDS = 5000  # records per page message: ~8 full Dataverse requests of rows to pack, ~5 MB in memory
HASH_SHARD_MAX_ENTRIES = 2000  # keys per hash shard: two pages of records; one read covers a page
HASH_SHARD_MAX_BYTES = 60 * 1024  # gzip'd shard must fit one binary table property (64 KiB limit)
HASH_SHARD_MAX_ATTEMPTS = 8  # ETag conflicts between concurrent transforms are retried this often
WRITTEN_BATCH_CACHE = 50_000  # batch ids known written, per process: written is final, so caching is safe
BATCH_CLAIM_TTL_S = 15 * 60  # a claim outlives any write invocation (functionTimeout 10 min)
RECONCILE_INTERVAL_DAYS = 7.0  # weekly full scan finds hard deletes and covers products without change stamps
RECONCILE_BATCH_ROWS = 500  # deactivation rows are tiny; half a Dataverse request each keeps messages small
DEACTIVATED_HASH = "deactivated"  # state hash of an account we deactivated: any real mapping differs from it
CONTACT_BATCH_DELAY_S = 2  # contacts bind their account: give the page's account batches a head start
WRITE_DEFER_DELAY_S = 30  # a contact whose account is not there yet is retried after this delay
WRITE_MAX_DEFERS = 5  # after this many deferrals the contact is dead-lettered with Dataverse's reason

# --- Schedules (NCRONTAB, six fields, UTC) -------------------------------------------------------
POLL_SCHEDULE = "0 */15 * * * *"  # every 15 min: fresh enough for master data, cheap on ION quotas
REPLAY_SCHEDULE = "0 0 * * * *"  # hourly drain of poison queues; transient faults have usually cleared
REPLAY_MAX_ATTEMPTS = 3  # after this many replays a message is parked for a person to look at
REPLAY_REPORT_ITEMS = 100  # items listed in one replay answer; counts cover everything matched
REPLAY_DRAIN_MAX_MESSAGES = 5000  # poison messages moved per timer run; the rest wait for the next run

# --- HTTP ------------------------------------------------------------------------------------------
CONNECT_TIMEOUT_S = 10.0  # a healthy gateway accepts a TLS connection in well under a second
READ_TIMEOUT_S = 75.0  # a little above the ION gateway's 60 s backend timeout, so we see its 504
HTTP_MAX_RETRIES = 5  # transient failures retried per request before the queue takes over
HTTP_BACKOFF_BASE_S = 0.5  # first back-off step; doubles per attempt, with full jitter
HTTP_BACKOFF_MAX_S = 60.0  # never sleep longer than this per attempt inside one invocation

# --- CloudSuite (ION API) ------------------------------------------------------------------------
# (owned by shared/cloudsuite)
CLOUDSUITE_PAGE_SIZE = 1000  # records per list request: few round trips, page JSON stays well under a few MB
CLOUDSUITE_MAX_PAGE_SIZE = 10_000  # CMS100MI's documented hard cap; larger pages only risk gateway 504s
CLOUDSUITE_MAX_PAGES = 100_000  # runaway-paging guard: 100M records at the default page size, far above any tenant
CLOUDSUITE_WATERMARK_OVERLAP_S = 900  # re-read 15 min before the last watermark: clock skew, slow commits, DST edges
CLOUDSUITE_TOKEN_REFRESH_SHARE = 0.75  # refresh proactively after 3/4 of the lifetime (90 min of ION's default 2 h)
CLOUDSUITE_TOKEN_SAFETY_MARGIN_S = 60.0  # reference rule: never use a token in its last 60 s (clock skew, slow calls)
CLOUDSUITE_TOKEN_MARGIN_MAX_SHARE = 0.1  # short test lifetimes: the margin never eats more than 10 % of the lifetime
CLOUDSUITE_TOKEN_DEFAULT_LIFETIME_S = 3600.0  # only when a token response omits expires_in: shortest seen in practice
CLOUDSUITE_GATEWAY_TIMEOUT_RETRIES = 1  # a second 504 in a row means "page too big": halve it instead of waiting
CLOUDSUITE_MIN_PAGE_SIZE = 1  # halving on 504 stops here; below it the request itself is the problem
CLOUDSUITE_RETRY_AFTER_MAX_S = 120.0  # a longer Retry-After is better served by the queue's retry than by sleeping
CLOUDSUITE_PROBE_TIMEOUT_S = 15.0  # product detection reads one tiny resource; a slow answer is "not this product"
CLOUDSUITE_MONGOOSE_TIMEZONE = "UTC"  # CSI RecordDate is site-local; set the site's IANA zone per connection

# --- Dataverse -------------------------------------------------------------------------------------
# (owned by shared/dataverse)
DATAVERSE_API_PATH = "/api/data/v9.2"  # current Web API version; every documented example uses it
DATAVERSE_KEY_COLUMN = "cssync_sourcekey"  # our custom alternate-key column on account and contact
DATAVERSE_KEY_MAX_LENGTH = 100  # Infor keys are short; leaves room for company/division prefixes
DATAVERSE_MAX_REQUEST_BYTES = 256 * 1024  # product cap on one request body (design invariant 4), never raised
DATAVERSE_MIN_REQUEST_BYTES = 4 * 1024  # below this even one ordinary account would not fit
DATAVERSE_MAX_OPERATIONS = 1000  # $batch hard limit; also the documented upper start for UpsertMultiple
DATAVERSE_MAX_CONCURRENCY = 4  # well under the 52-concurrent limit; a Functions instance shares the app user
DATAVERSE_CONCURRENCY_LIMIT = 52  # service protection: concurrent requests per user per web server
DATAVERSE_DEFAULT_DOP_HINT = 1  # assume no parallelism until the server's x-ms-dop-hint says otherwise
DATAVERSE_RAMP_INTERVAL_S = 1.0  # parallelism grows by one request per quiet second (Microsoft: ramp up)
DATAVERSE_CONCURRENCY_COOLDOWN_S = 60.0  # after a concurrency 429, ignore x-ms-dop-hint this long (shared user)
DATAVERSE_CONNECT_TIMEOUT_S = 10.0  # a healthy environment accepts a TLS connection in well under a second
DATAVERSE_READ_TIMEOUT_S = 240.0  # a 1000-record UpsertMultiple can run for minutes (ServiceClient waits 4 min)
DATAVERSE_MAX_RETRIES = 5  # 5xx/timeouts/resets retried per request before the queue takes over
DATAVERSE_BACKOFF_BASE_S = 0.5  # first back-off step; doubles per attempt, full jitter
DATAVERSE_BACKOFF_MAX_S = 30.0  # cap per back-off step inside one invocation
DATAVERSE_RETRY_AFTER_DEFAULT_S = 2.0  # 429 without Retry-After: the documented 2^n start
DATAVERSE_RETRY_AFTER_MAX_S = 120.0  # a longer wait is cheaper as a queue retry than a sleeping function
DATAVERSE_THROTTLE_BUDGET_S = 240.0  # total 429 wait per request before handing back to the queue
DATAVERSE_PACE_SAFETY = 0.9  # after a 429, send at 90% of the rate the server admitted: a collision costs more
DATAVERSE_PACE_BACKOFF = 1.5  # a second 429 despite pacing (or the send window): slow down by half again at least
DATAVERSE_PACE_RELAX_PER_S = 0.002  # the pace loosens 0.2%/s: the 10% margin lasts ~1 min, a lifted limit is found
DATAVERSE_PACE_HISTORY = 10_000  # sends remembered for the pace and send window (grows to a declared limit)
DATAVERSE_TRANSIENT_PART_RETRIES = 3  # re-sends of $batch parts that came back 5xx/429 or missing
DATAVERSE_ERROR_SNIPPET_CHARS = 300  # of a non-JSON error body (a gateway's HTML page): enough to recognise it
DATAVERSE_PROVISION_TIMEOUT_S = 600.0  # alternate-key index jobs on large tables take minutes
DATAVERSE_PROVISION_POLL_S = 2.0  # EntityKeyIndexStatus poll interval while waiting for Active
DATAVERSE_CAPABILITY_CACHE_S = 3600.0  # re-check UpsertMultiple support hourly (environments get upgraded)

# --- Pipeline --------------------------------------------------------------------------------------
# (owned by the pipeline modules)
# Mapping (shared/mapping; docs/mapping.md). Key column and its length: DATAVERSE_KEY_COLUMN / _KEY_MAX_LENGTH.
MAPPING_SOURCE_ID_MAX_LENGTH = 40  # as long as a connection name; leaves room in the key for kind, ids and contact part
MAPPING_CUSTOMERTYPECODE_SUPPLIER = 10  # account_customertypecode "Supplier"; 11 "Vendor" is the common alternative
MAPPING_CUSTOMERTYPECODE_CUSTOMER = 3  # account_customertypecode "Customer"
MAPPING_CUSTOMERTYPECODE_BOTH = 3  # a partner that is customer and supplier is a customer first for Sales users
MAPPING_ON_TOO_LONG = "reject"  # cutting is silent data loss: dead-letter with column and lengths named instead
MAPPING_ON_INVALID_EMAIL = "drop"  # one bad e-mail address must not keep the company itself out of Dataverse
MAPPING_EMPTY = "null"  # an emptied CloudSuite field clears the Dataverse column: CloudSuite is the master
