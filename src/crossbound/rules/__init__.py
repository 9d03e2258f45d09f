"""Rule sets as data: loading, the check library, evaluation.

``loader`` reads the rule files into a :class:`Catalogue`; ``compiler`` turns each ``[[rules]]`` table
into a :class:`Rule` whose check comes from ``checks`` (fields read through ``paths``, CEL through
``cel``); ``engine`` evaluates rules against a :class:`Context`; ``model`` holds the data types.
"""

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
