"""Patient needs and the learned acceptance probability."""

from __future__ import annotations

from ems.dispatch import acceptance
from ems.dispatch.needs import derive_needs


def test_stroke_needs_thrombectomy_and_a_stroke_unit() -> None:
    n = derive_needs(urgency="serious", suspected_condition="Stroke", age=78)
    assert n.required_capabilities == {"stroke_thrombectomy"} and n.bed_category == "scu"


def test_every_condition_a_call_taker_picks_has_its_pathway() -> None:
    """The console sends the Condition values; each one (but "other") asks for the
    capability and bed its patients need, never the general fallback by accident."""
    from ems.dispatch.needs import CONDITIONS
    from ems.incidents.models import Condition

    for condition in Condition:
        if condition is Condition.OTHER:
            continue
        assert condition.value in CONDITIONS, condition
    stemi = derive_needs(urgency="serious", suspected_condition="chest_pain_stemi")
    assert stemi.required_capabilities == frozenset({"pci"}) and stemi.bed_category == "ccu"
    burns = derive_needs(urgency="serious", suspected_condition="burns")
    assert burns.required_capabilities == frozenset({"burns"}) and burns.bed_category == "burn"
    child = derive_needs(urgency="moderate", suspected_condition="paediatric")
    assert "paediatrics" in child.required_capabilities
    assert child.bed_category == "paediatric"


def test_unspecified_chest_pain_asks_a_ccu_bed_only_when_serious() -> None:
    # A PCI-capable hospital either way; a moderate patient goes to a ward bed there and
    # is not turned away from a hospital whose CCU is full.
    for urgency, bed in (("critical", "ccu"), ("serious", "ccu"), ("moderate", "general")):
        n = derive_needs(urgency=urgency, suspected_condition="chest_pain", age=70)
        assert n.required_capabilities == frozenset({"pci"}) and n.bed_category == bed
    stemi = derive_needs(urgency="moderate", suspected_condition="chest_pain_stemi")
    assert stemi.bed_category == "ccu"


def test_child_needs_paediatrics_and_critical_prefers_tertiary() -> None:
    child = derive_needs(urgency="moderate", suspected_condition="fever", age=4)
    assert "paediatrics" in child.required_capabilities and child.bed_category == "paediatric"
    crit = derive_needs(urgency="critical", suspected_condition="", age=50)
    assert crit.preferred_level == "tertiary" and crit.bed_category == "icu"


def test_acceptance_starts_at_the_prior_and_learns_per_hospital_and_hour() -> None:
    empty = acceptance.learn([])
    assert abs(empty.p(1, "icu", 3) - 0.6) < 1e-9
    answers = [acceptance.Answer(1, "icu", 3, False) for _ in range(30)]
    answers += [acceptance.Answer(1, "icu", 14, True) for _ in range(30)]
    answers += [acceptance.Answer(2, "icu", 3, True) for _ in range(30)]
    model = acceptance.learn(answers)
    assert model.p(1, "icu", 3) < 0.25
    assert model.p(1, "icu", 14) > 0.8
    assert model.p(2, "icu", 3) > 0.8
    # A hospital with no record leans on the region's rate.
    assert 0.4 < model.p(99, "icu", 3) < 0.8


def test_observe_learns_like_learn() -> None:
    answers = [acceptance.Answer(1, "general", h % 24, h % 3 == 0) for h in range(50)]
    batch = acceptance.learn(answers)
    online = acceptance.AcceptanceModel()
    for a in answers:
        online.observe(a)
    assert abs(batch.p(1, "general", 5) - online.p(1, "general", 5)) < 1e-9
