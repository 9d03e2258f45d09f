"""Rule sets as data: loading, the check library, evaluation."""

from crossbound.rules.engine import evaluate
from crossbound.rules.loader import Catalogue, load_catalogue
from crossbound.rules.model import Context, Finding, Outcome, Rule, RuleSet, Severity, outcome_of

__all__ = [
    "Catalogue",
    "Context",
    "Finding",
    "Outcome",
    "Rule",
    "RuleSet",
    "Severity",
    "evaluate",
    "load_catalogue",
    "outcome_of",
]
