"""Config-driven mapping of raw CloudSuite supplier/customer records to Dataverse account and contact rows.

Pure Python, no I/O: the transform step calls it once per record. Operator documentation: docs/mapping.md;
the ``mapping`` section's schema: shared/schemas/mapping.schema.json.

How the pipeline uses it::

    key_columns = {t: dataverse_config.key_column(t) for t in ("account", "contact")}  # the writer's key columns
    config = MappingConfig.from_section(connection.mapping, connection=connection.name, product="m3",
                                        key_columns=key_columns)  # once per connection
    try:
        mapped = map_record(config, "supplier", raw)      # raw: the client's dict of product field names
    except RecordError as exc:                            # exc.reason, exc.code (mapper.CODES), exc.key
        dead_letter(raw, exc)
    for row in mapped.rows:                               # the account first, then its contacts
        if row.hash != last_written_hash(row.table, row.key):
            upsert(row.entity_set, row.ref, row.payload)   # PATCH {row.ref} or UpsertMultiple @odata.id=row.ref
    audit(mapped.source_key, mapped.notes)                # warnings such as "invalid e-mail address left out"

Rules (each documented and tested):

* Key: ``<source_id>|<kind>|<record id>`` in column ``cssync_sourcekey`` on both tables, e.g. ``acme-m3|S|S10001``,
  ``acme-m3|C|C10001``, ``acme-ln|BP|BP0000101`` (LN partners share one key in both roles). Id parts are escaped
  (``SUP/2024`` -> ``SUP~2F2024``, keys.py); longer than 100 characters -> ``RecordError``. Contact key: account key
  + ``|<contact id>`` (+ ``|<item id>`` for list contacts).
* Empty (or null) source field: the column is sent as null, so a value removed in CloudSuite is removed in
  Dataverse (``"empty": "omit"`` leaves it out instead). A field the record does not carry at all (the client did
  not read it) leaves the column out, so Dataverse keeps its value. A column mapped to null is never sent.
* A record that is customer and supplier (LN ``BusinessPartnerRole`` CustomerAndSupplier) is mapped with one
  entity's map (``both.use``, default customer) and ``customertypecode.both`` (default: the customer code, 3) from
  whichever listing it comes, so both writes carry the same key, payload and hash.
* Inactive (M3 STAT 90, CSI vendor Stat I, LN BusinessPartnerStatus Inactive, configurable) -> statecode 1 /
  statuscode 2; otherwise 0 / 1. No status field configured, or not carried -> state columns are not sent.
"""

from __future__ import annotations

from shared.mapping.config import MappingConfig, merge_section
from shared.mapping.mapper import CODES, MappedRecord, Row, content_hash, map_record

__all__ = ["CODES", "MappedRecord", "MappingConfig", "Row", "content_hash", "map_record", "merge_section"]
