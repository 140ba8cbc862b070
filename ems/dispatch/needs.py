"""What a patient needs from a hospital, derived from urgency, suspected condition and age.

The mapping follows Japanese practice: suspected STEMI goes to a PCI-capable
hospital with a CCU bed (unspecified chest pain too when the call is serious; a
moderate one to a ward bed there), suspected stroke to thrombectomy and an SCU, critical
patients preferably to a tertiary centre (救命救急センター), children to paediatrics.
"""

from __future__ import annotations

from ems.dispatch.optimizer import PatientNeeds
from ems.dispatch.reasons import Reason, reason

# suspected condition → (capabilities, bed category). Every condition a call-taker can
# pick (``ems.incidents.models.Condition``) has its pathway here; the shorter names are
# those of region data and older clients.
CONDITIONS: dict[str, tuple[frozenset[str], str]] = {
    "chest_pain_stemi": (frozenset({"pci"}), "ccu"),
    "stemi": (frozenset({"pci"}), "ccu"),
    "acs": (frozenset({"pci"}), "ccu"),
    # Unspecified chest pain: a hospital that can do PCI for the work-up; a CCU bed only
    # when the call is serious or critical (see ``SERIOUS_CATEGORY``).
    "chest_pain": (frozenset({"pci"}), "general"),
    "cardiac_arrest": (frozenset({"pci"}), "icu"),
    "stroke": (frozenset({"stroke_thrombectomy"}), "scu"),
    "intracranial_haemorrhage": (frozenset({"neurosurgery"}), "scu"),
    "head_injury": (frozenset({"neurosurgery"}), "icu"),
    "major_trauma": (frozenset({"trauma_surgery"}), "icu"),
    "trauma": (frozenset({"trauma_surgery"}), "general"),
    "burns": (frozenset({"burns"}), "burn"),
    "burn": (frozenset({"burns"}), "burn"),
    "paediatric": (frozenset({"paediatrics"}), "paediatric"),
    "obstetric": (frozenset({"obstetrics"}), "maternity"),
    "pregnancy": (frozenset({"obstetrics"}), "maternity"),
    "psychiatric": (frozenset({"psychiatry"}), "psychiatric"),
    "overdose": (frozenset(), "general"),
    "respiratory": (frozenset(), "general"),
    "sepsis": (frozenset(), "icu"),
    "fall": (frozenset(), "general"),
    "fever": (frozenset(), "general"),
}

# Conditions whose bed depends on urgency: a serious or critical call with unspecified
# chest pain may be an acute coronary syndrome (CCU); a moderate one is worked up and
# admitted to a ward, and asking for a CCU bed would turn it away from hospitals whose
# CCU is full.
SERIOUS_CATEGORY = {"chest_pain": "ccu"}

CHILD_AGE = 15


def derive_needs(
    *, urgency: str, suspected_condition: str = "", age: int | None = None
) -> PatientNeeds:
    condition = suspected_condition.strip().lower().replace(" ", "_").replace("-", "_")
    caps, category = CONDITIONS.get(condition, (frozenset(), "general"))
    if urgency in ("serious", "critical"):
        category = SERIOUS_CATEGORY.get(condition, category)
    reasons: list[Reason] = []
    if condition in CONDITIONS:
        reasons.append(reason("suspected_condition", condition=condition))
    elif condition:
        reasons.append(reason("no_specific_pathway", condition=condition))
    capabilities = set(caps)
    if age is not None and age < CHILD_AGE and category not in ("maternity", "psychiatric"):
        capabilities.add("paediatrics")
        reasons.append(reason("child", age=age))
        if category == "general":
            category = "paediatric"
    if urgency == "critical" and category == "general":
        category = "icu"
        reasons.append(reason("critical_icu"))
    preferred = "tertiary" if urgency == "critical" else None
    if preferred:
        reasons.append(reason("critical_tertiary"))
    return PatientNeeds(
        bed_category=category,
        required_capabilities=frozenset(capabilities),
        preferred_level=preferred,
        urgency=urgency,
        reasons=tuple(reasons),
    )
