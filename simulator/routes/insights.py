"""PagerDuty's incident insights: past, related and outlier incidents, as the official MCP server reads them.

PagerDuty computes these with machine learning it does not publish; the simulator uses rules simple
enough to predict in a test, built on the words of incident titles (numbers left out, so "5xx above 2%"
and "5xx above 5%" read alike):
- past incidents: the same service's earlier incidents of the last six months that share title words,
  scored by the share of words they have in common (Jaccard), best first;
- related incidents: incidents on other services, opened within an hour of this one and sharing title
  words with it, newest first, at most 20;
- outlier incident: the incident's title template (numbers as `<*>`), and how often the service raised
  that template since `since` (default 90 days): `outlier` when never before, `rare` when under 10% of the
  service's incidents, `frequent` otherwise.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from ..account import Account
from ..clock import Clock
from ..errors import invalid_input, not_found
from ..http import Request, Response, Router, format_time
from ..models import Incident
from ..render import API_BASE
from .incidents import Renderer

ROUTES = Router()

PAST_WINDOW = timedelta(days=183)
RELATED_WINDOW = timedelta(hours=1)
MAX_RELATED = 20
OUTLIER_DEFAULT_WINDOW = timedelta(days=90)
RARE_SHARE = 0.1
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _incident(account: Account, id_or_number: str) -> Incident:
    incident = account.find_incident(id_or_number)
    if incident is None:
        raise not_found(f"Incident {id_or_number} not found.")
    return incident


def _words(title: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z]+", _NUMBER.sub(" ", title.lower())) if len(w) > 2)


def similarity(a: str, b: str) -> float:
    """Shared title words over all title words, 0 to 1."""
    left, right = _words(a), _words(b)
    return len(left & right) / len(left | right) if left and right else 0.0


def template(title: str) -> str:
    return _NUMBER.sub("<*>", title)


def _brief(incident: Incident) -> dict:
    """The short incident these endpoints answer with unless `additional_details[]=incident` asks for more."""
    return {"id": incident.id, "created_at": format_time(incident.created_at),
            "self": f"{API_BASE}/incidents/{incident.id}", "title": incident.title}


def _detailed(account: Account, request: Request):
    details = set(request.list_param("additional_details"))
    if details - {"incident"}:
        raise invalid_input("additional_details[] takes incident only.")
    return Renderer(account).incident if "incident" in details else _brief


@ROUTES.get("/incidents/{id}/past_incidents", scope="incidents.read")
def past_incidents(account: Account, clock: Clock, request: Request, id: str) -> Response:
    limit = request.int_param("limit", 5)
    if not 1 <= limit <= 999:
        raise invalid_input("limit must be between 1 and 999.")
    incident = _incident(account, id)
    earliest = incident.created_at - PAST_WINDOW
    scored = [(similarity(incident.title, other.title), other) for other in account.incidents.values()
              if other.service_id == incident.service_id and other.id != incident.id
              and earliest <= other.created_at < incident.created_at]
    scored = sorted((pair for pair in scored if pair[0] > 0), key=lambda p: (-p[0], -p[1].number))
    body: dict = {"past_incidents": [{"incident": _brief(other), "score": round(score, 4)}
                                     for score, other in scored[:limit]], "limit": limit}
    if request.bool_param("total"):
        body["total"] = len(scored)
    return Response(200, body)


@ROUTES.get("/incidents/{id}/related_incidents", scope="incidents.read")
def related_incidents(account: Account, clock: Clock, request: Request, id: str) -> Response:
    render = _detailed(account, request)
    incident = _incident(account, id)
    related = sorted((other for other in account.incidents.values()
                      if other.service_id != incident.service_id
                      and abs(other.created_at - incident.created_at) <= RELATED_WINDOW
                      and similarity(incident.title, other.title) > 0),
                     key=lambda other: other.number, reverse=True)[:MAX_RELATED]
    relationship = {"type": "machine_learning_inferred", "metadata": {
        "grouping_classification": "similar_contents",
        "user_feedback": {"positive_feedback_count": 0, "negative_feedback_count": 0}}}
    return Response(200, {"related_incidents": [{"incident": render(other), "relationships": [relationship]}
                                                for other in related]})


@ROUTES.get("/incidents/{id}/outlier_incident", scope="incidents.read")
def outlier_incident(account: Account, clock: Clock, request: Request, id: str) -> Response:
    render = _detailed(account, request)
    incident = _incident(account, id)
    now = clock.now()
    since = request.time_param("since") or now - OUTLIER_DEFAULT_WINDOW
    if since > now:
        raise invalid_input("since must not be in the future.")
    mined = template(incident.title)
    on_service = [i for i in account.incidents.values()
                  if i.service_id == incident.service_id and since <= i.created_at <= now]
    count = sum(1 for i in on_service if template(i.title) == mined)
    share = count / len(on_service) if on_service else 0.0
    before = [i for i in on_service if template(i.title) == mined and i.number < incident.number]
    category = "outlier" if not before else "rare" if share < RARE_SHARE else "frequent"
    days = max((now - since) / timedelta(days=1), 1 / 24)
    cluster = hashlib.md5(f"{incident.service_id}/{mined}".encode()).hexdigest()
    rendered = dict(render(incident), occurrence={
        "count": count, "frequency": round(count / days, 4), "category": category,
        "since": format_time(since), "until": format_time(now)})
    return Response(200, {"outlier_incident": {"incident": rendered, "incident_template": {
        "id": cluster[:14].upper(), "cluster_id": cluster[14:28].upper(), "mined_text": mined}}})
