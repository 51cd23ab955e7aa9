"""Schemathesis hooks for kyc-mock (loaded by scripts/interop.sh): the rules of Pomelo's Identity
API that JSON Schema cannot state, so that what Schemathesis generates as valid data is valid and
its positive_data_acceptance check still holds the simulator to accepting the rest. Each rule is
also written in docs/openapi.json. Every failure a hook drops is counted in Schemathesis' summary.
"""

import schemathesis

CREATE = {"method": "POST", "path": "/identity/v2/sessions"}
SEARCH = {"method": "GET", "path": "/identity/v1/sessions"}


def repeated_ids(body):
    """Whether a KYB create body names an id twice among its company and partners."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return False
    company, partners = data.get("company"), data.get("partners")
    if not isinstance(company, dict) or not isinstance(partners, list):
        return False
    ids = [company.get("id")] + [p.get("id") for p in partners if isinstance(p, dict)]
    ids = [i for i in ids if isinstance(i, str)]
    return len(ids) != len(set(ids))


# A company and each of its partners are separate entities: their ids differ. Generated data
# that repeats one is not generated (fuzzing, stateful)...
@schemathesis.hook("filter_body").apply_to(**CREATE)
def ids_are_distinct(ctx, body):
    return not repeated_ids(body)


# ... and the coverage phase, which does not run filter hooks, is not blamed for its refusal.
@schemathesis.hook("filter_failure").apply_to(**CREATE)
def repeated_ids_are_refused(ctx, failure, case, response):
    return not (getattr(failure, "code", "") == "ST202" and repeated_ids(case.body))


def repeated_sort_keys(query):
    """Whether `sort` names a key twice, once ascending and once descending (`status,-status`)."""
    sort = query.get("sort") if isinstance(query, dict) else None
    if isinstance(sort, str):
        sort = sort.split(",")
    if not isinstance(sort, list):
        return False
    keys = [k.lstrip("-") for k in sort if isinstance(k, str)]
    return len(keys) != len(set(keys))


# `sort` may name a key once: `status,-status` is refused (`uniqueItems` says only that no item
# repeats). Not generated, and not blamed on the coverage phase.
@schemathesis.hook("filter_query").apply_to(**SEARCH)
def sort_keys_are_distinct(ctx, query):
    return not repeated_sort_keys(query)


@schemathesis.hook("filter_failure").apply_to(**SEARCH)
def repeated_sort_keys_are_refused(ctx, failure, case, response):
    return not (getattr(failure, "code", "") == "ST202" and repeated_sort_keys(case.query))


# Any text is a user id: a generated `filter[user_id]` that is neither a list nor text (`false`,
# `0`) goes on the wire as that text, a valid filter, and is no invalid data.
@schemathesis.hook("filter_query").apply_to(**SEARCH)
def user_ids_as_sent(ctx, query):
    if not isinstance(query, dict) or "filter[user_id]" not in query:
        return True
    return isinstance(query["filter[user_id]"], (list, str))


# An upload's bytes must be of its part's Content-Type (decision 3). Schemathesis sends a real
# JPEG or PNG for those types, and has no file for application/pdf: the smallest PDF.
SMALLEST_PDF = b"%PDF-1.4\n%%EOF\n"


@schemathesis.serializer("application/pdf")
def pdf(ctx, value):
    data = value if isinstance(value, bytes) else getattr(value, "data", None)
    if isinstance(data, bytes) and data.startswith(b"%PDF-"):
        return {"data": data}
    return {"data": SMALLEST_PDF}
