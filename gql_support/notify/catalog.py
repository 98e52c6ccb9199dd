"""The words of an email in each language: subjects, field names and field values.

English is the fallback for any locale without its own entry. The sentences around them live
in the templates, ``templates/<language>/``.
"""

from __future__ import annotations

import unicodedata

from gql_support.notify.models import NoticeReason

FALLBACK = "en"

SUBJECTS: dict[str, dict[NoticeReason | str, str]] = {
    "en": {
        NoticeReason.PASSWORD_RESET: "Choose a new password for gql-support",
        NoticeReason.RECEIPT: "[#{number}] We received your incident: {summary}",
        NoticeReason.REPORTED: "[#{number}] New incident: {summary}",
        NoticeReason.ASSIGNED: "[#{number}] You were assigned: {summary}",
        "status": "[#{number}] {status}: {summary}",
        "comment": "[#{number}] New comment by {actor}: {summary}",
        NoticeReason.UPDATED: "[#{number}] Updated by {actor}: {summary}",
        NoticeReason.DUE_SOON: "[#{number}] Due {due}: {summary}",
        NoticeReason.OVERDUE: "[#{number}] Overdue since {due}: {summary}",
        NoticeReason.DIGEST: "Daily digest, {day}: {overdue} overdue, {unassigned} unassigned",
    },
    "fr": {
        NoticeReason.PASSWORD_RESET: "Choisissez un nouveau mot de passe gql-support",
        NoticeReason.RECEIPT: "[#{number}] Nous avons reçu votre incident : {summary}",
        NoticeReason.REPORTED: "[#{number}] Nouvel incident : {summary}",
        NoticeReason.ASSIGNED: "[#{number}] Incident qui vous est attribué : {summary}",
        "status": "[#{number}] {status} : {summary}",
        "comment": "[#{number}] Nouveau commentaire {of_actor} : {summary}",
        NoticeReason.UPDATED: "[#{number}] Modifié par {actor} : {summary}",
        NoticeReason.DUE_SOON: "[#{number}] Échéance le {due} : {summary}",
        NoticeReason.OVERDUE: "[#{number}] En retard depuis le {due} : {summary}",
        NoticeReason.DIGEST: "Point du {day} : {overdue} en retard, {unassigned} sans attribution",
    },
}

FIELDS: dict[str, dict[str, str]] = {
    "en": {
        "status": "Status",
        "assignedTo": "Assigned To",
        "supportedBy": "Supported By",
        "watchers": "Watchlist",
        "impact": "Impact",
        "urgency": "Urgency",
        "priority": "Priority",
        "dueDate": "Due date",
        "type": "Type",
        "task": "Task",
        "references": "References",
    },
    "fr": {
        "status": "Statut",
        "assignedTo": "Attribué à",
        "supportedBy": "Assisté par",
        "watchers": "Liste de suivi",
        "impact": "Impact",
        "urgency": "Urgence",
        "priority": "Priorité",
        "dueDate": "Échéance",
        "type": "Type",
        "task": "Tâche",
        "references": "Références",
    },
}

#: Names of the enum values a field can take (status, priority, impact, urgency, type).
VALUES: dict[str, dict[str, str]] = {
    "en": {
        "NEW": "New",
        "IN_PROGRESS": "In progress",
        "RETESTING": "Retesting",
        "RESOLVED": "Resolved",
        "CLOSED": "Closed",
        "REJECTED": "Rejected",
        "ON_HOLD": "On hold",
        "URGENT": "Urgent",
        "HIGH": "High",
        "NORMAL": "Normal",
        "MEDIUM": "Medium",
        "LOW": "Low",
        "DEFECT": "Defect",
        "CHANGE_REQUEST": "Change request",
        "CLARIFICATION": "Clarification",
    },
    "fr": {
        "NEW": "Nouveau",
        "IN_PROGRESS": "En cours",
        "RETESTING": "Retester",
        "RESOLVED": "Fermé",
        "CLOSED": "Clôturé",
        "REJECTED": "Rejeté",
        "ON_HOLD": "En attente",
        "URGENT": "Urgente",
        "HIGH": "Haute",
        "NORMAL": "Normale",
        "MEDIUM": "Moyenne",
        "LOW": "Basse",
        "DEFECT": "Anomalie",
        "CHANGE_REQUEST": "Demande d'évolution",
        "CLARIFICATION": "Clarification",
    },
}

#: Fields whose values are enum names, shown translated.
ENUM_FIELDS = frozenset({"status", "impact", "urgency", "priority", "type"})
#: Fields whose values are moments (ISO 8601), shown in the reader's locale and time zone.
INSTANT_FIELDS = frozenset({"dueDate"})


def language_of(locale: str) -> str:
    """The catalog language for a user's locale (``fr-CA`` → ``fr``), English if we lack it."""
    language = locale.replace("_", "-").split("-", 1)[0].strip().lower()
    return language if language in SUBJECTS else FALLBACK


def french_of(name: str) -> str:
    """French "de" before a name, elided before a vowel or a mute h: "de Zoé", "d'Ann",
    "d'Hélène" (the French templates' "Commentaire {of_actor}")."""
    first = unicodedata.normalize("NFD", name.lstrip()[:1])[:1].lower()
    return f"d'{name}" if first and first in "aeiouyh" else f"de {name}"
