"""Demo data of the record store: synthetic patients with realistic Japanese
histories, as FHIR R4 Bundles.

Every person here is invented. The server's own seed does not load them: the mock
issuer's demo (``python -m card_issuer seed-demo``) stores them and issues their
cards, and tests use them as sample records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any


def _cc(text: str, system: str = "", code: str = "") -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"system": system, "code": code, "display": text}]
    return concept


def _status(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"


def bundle(
    *,
    pid: str,
    family: str,
    given: str,
    gender: str,
    birth: str,
    allergies: Sequence[tuple[str, str, str]] = (),
    medications: Sequence[tuple[str, str]] = (),
    conditions: Sequence[tuple[str, str]] = (),
    procedures: Sequence[tuple[str, str]] = (),
    observations: Sequence[tuple[str, float, str, str]] = (),
    encounters: Sequence[tuple[str, str, str, str]] = (),
) -> dict[str, Any]:
    """A FHIR R4 collection Bundle from compact tuples (all text in Japanese)."""
    ref = {"reference": f"urn:uuid:{pid}"}
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"urn:uuid:{pid}",
            "resource": {
                "resourceType": "Patient",
                "id": pid,
                "name": [{"family": family, "given": [given], "text": f"{family} {given}"}],
                "gender": gender,
                "birthDate": birth,
            },
        }
    ]
    for substance, criticality, reaction in allergies:
        entries.append(
            {
                "resource": {
                    "resourceType": "AllergyIntolerance",
                    "clinicalStatus": _status(ALLERGY_CLINICAL, "active"),
                    "patient": ref,
                    "code": _cc(substance),
                    "criticality": criticality,
                    "reaction": [{"manifestation": [_cc(reaction)]}],
                }
            }
        )
    for medication, dosage in medications:
        entries.append(
            {
                "resource": {
                    "resourceType": "MedicationStatement",
                    "status": "active",
                    "subject": ref,
                    "medicationCodeableConcept": _cc(medication),
                    "dosage": [{"text": dosage}],
                }
            }
        )
    for condition, onset in conditions:
        entries.append(
            {
                "resource": {
                    "resourceType": "Condition",
                    "clinicalStatus": _status(CLINICAL, "active"),
                    "subject": ref,
                    "code": _cc(condition),
                    "onsetDateTime": onset,
                }
            }
        )
    for procedure, date in procedures:
        entries.append(
            {
                "resource": {
                    "resourceType": "Procedure",
                    "status": "completed",
                    "subject": ref,
                    "code": _cc(procedure),
                    "performedDateTime": date,
                }
            }
        )
    for name, value, unit, date in observations:
        entries.append(
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                    "code": "laboratory",
                                }
                            ]
                        }
                    ],
                    "code": _cc(name),
                    "subject": ref,
                    "effectiveDateTime": date,
                    "valueQuantity": {"value": value, **({"unit": unit} if unit else {})},
                }
            }
        )
    for date, kind, reason, provider in encounters:
        entries.append(
            {
                "resource": {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                        "code": kind,
                        "display": {"AMB": "外来", "IMP": "入院", "EMER": "救急"}.get(kind, kind),
                    },
                    "subject": ref,
                    "period": {"start": date},
                    "reasonCode": [_cc(reason)],
                    "serviceProvider": {"display": provider},
                }
            }
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _recent(days: int) -> str:
    return (dt.date.today() - dt.timedelta(days=days)).isoformat()


def demo_bundles() -> list[dict[str, Any]]:
    return [
        bundle(
            pid="demo-1",
            family="山田",
            given="太郎",
            gender="male",
            birth="1948-04-12",
            allergies=[("ペニシリン系抗菌薬", "high", "アナフィラキシー")],
            medications=[
                ("ワルファリンカリウム錠 1mg", "1回3錠 1日1回 朝食後"),
                ("アムロジピン錠 5mg", "1回1錠 1日1回 朝食後"),
            ],
            conditions=[("高血圧症", "2005-06-01"), ("心房細動", "2016-09-20")],
            observations=[
                ("PT-INR", 2.4, "", _recent(40)),
                ("収縮期血圧", 152, "mmHg", _recent(40)),
                ("eGFR", 58, "mL/min/1.73m2", _recent(200)),
            ],
            encounters=[
                (_recent(40), "AMB", "心房細動 定期受診", "県立中央病院 循環器内科"),
                (_recent(400), "IMP", "脳梗塞疑い（一過性脳虚血発作）", "県立中央病院"),
            ],
        ),
        bundle(
            pid="demo-2",
            family="佐藤",
            given="花子",
            gender="female",
            birth="1956-11-03",
            allergies=[("ヨード造影剤", "high", "血圧低下・全身蕁麻疹")],
            medications=[
                ("インスリン グラルギン注", "就寝前 14単位"),
                ("メトホルミン塩酸塩錠 500mg", "1回1錠 1日2回 朝夕食後"),
            ],
            conditions=[("2型糖尿病", "2009-03-01"), ("糖尿病性腎症 (第3期)", "2019-07-01")],
            observations=[
                ("HbA1c", 7.8, "%", _recent(30)),
                ("空腹時血糖", 162, "mg/dL", _recent(30)),
                ("血清クレアチニン", 1.3, "mg/dL", _recent(30)),
            ],
            encounters=[(_recent(30), "AMB", "糖尿病 定期受診", "みなと内科クリニック")],
        ),
        bundle(
            pid="demo-3",
            family="鈴木",
            given="一郎",
            gender="male",
            birth="1962-01-25",
            medications=[
                ("アスピリン腸溶錠 100mg", "1回1錠 1日1回"),
                ("クロピドグレル錠 75mg", "1回1錠 1日1回"),
                ("アトルバスタチン錠 10mg", "1回1錠 1日1回 夕食後"),
            ],
            conditions=[("急性心筋梗塞 (前壁) 既往", "2021-02-14"), ("脂質異常症", "2015-05-01")],
            procedures=[
                ("経皮的冠動脈形成術 (PCI) 左前下行枝 薬剤溶出性ステント留置", "2021-02-14")
            ],
            observations=[("LDLコレステロール", 88, "mg/dL", _recent(90))],
            encounters=[
                (_recent(90), "AMB", "心筋梗塞後 定期受診", "北部医療センター 循環器内科"),
                ("2021-02-14", "EMER", "急性心筋梗塞", "北部医療センター"),
            ],
        ),
        bundle(
            pid="demo-4",
            family="高橋",
            given="美咲",
            gender="female",
            birth="1994-07-08",
            allergies=[("アスピリン・NSAIDs (アスピリン喘息)", "high", "喘息発作")],
            medications=[("ブデソニド吸入 (パルミコート)", "1回2吸入 1日2回")],
            conditions=[("気管支喘息", "2002-04-01"), ("妊娠 (妊娠28週)", _recent(196))],
            observations=[("ヘモグロビン", 10.9, "g/dL", _recent(14))],
            encounters=[(_recent(14), "AMB", "妊婦健診", "さくら産婦人科医院")],
        ),
        bundle(
            pid="demo-5",
            family="田中",
            given="ヨシ",
            gender="female",
            birth="1935-02-17",
            medications=[
                ("ドネペジル塩酸塩錠 5mg", "1回1錠 1日1回 朝食後"),
                ("酸化マグネシウム錠 330mg", "1回1錠 1日3回"),
            ],
            conditions=[
                ("アルツハイマー型認知症", "2017-10-01"),
                ("誤嚥性肺炎 既往", "2023-01-10"),
            ],
            procedures=[("人工骨頭置換術 (左大腿骨頸部骨折)", "2022-08-03")],
            observations=[("アルブミン", 3.2, "g/dL", _recent(60))],
            encounters=[
                (_recent(60), "AMB", "認知症 定期受診", "やまびこ病院"),
                ("2023-01-10", "IMP", "誤嚥性肺炎", "県立中央病院"),
            ],
        ),
        bundle(
            pid="demo-6",
            family="伊藤",
            given="健",
            gender="male",
            birth="1978-09-30",
            allergies=[("そば", "high", "アナフィラキシー (エピペン処方あり)")],
            medications=[("バルプロ酸ナトリウム徐放錠 200mg", "1回2錠 1日2回")],
            conditions=[("てんかん (全般発作)", "1996-05-01")],
            observations=[("バルプロ酸血中濃度", 72, "µg/mL", _recent(120))],
            encounters=[(_recent(120), "AMB", "てんかん 定期受診", "県立中央病院 脳神経内科")],
        ),
        bundle(
            pid="demo-7",
            family="渡辺",
            given="勇",
            gender="male",
            birth="1951-12-01",
            medications=[
                ("チオトロピウム吸入 (スピリーバ)", "1日1回 2吸入"),
                ("在宅酸素療法", "安静時 1L/分、労作時 2L/分"),
                ("ダルベポエチン注 (透析時)", "週1回"),
            ],
            conditions=[
                ("慢性閉塞性肺疾患 (COPD)", "2012-01-01"),
                ("慢性腎臓病 (血液透析 月水金)", "2020-04-01"),
            ],
            procedures=[("内シャント造設術 (左前腕)", "2020-03-10")],
            observations=[
                ("SpO2 (安静時)", 91, "%", _recent(7)),
                ("カリウム", 5.4, "mmol/L", _recent(7)),
            ],
            encounters=[(_recent(2), "AMB", "血液透析", "あおば透析クリニック")],
        ),
        bundle(
            pid="demo-8",
            family="中村",
            given="さくら",
            gender="female",
            birth="2015-05-05",
            allergies=[("小麦", "high", "運動誘発アナフィラキシー"), ("卵", "low", "蕁麻疹")],
            medications=[("アドレナリン自己注射 (エピペン 0.15mg)", "アナフィラキシー時")],
            conditions=[("食物アレルギー", "2016-01-01"), ("小児喘息", "2018-06-01")],
            encounters=[(_recent(150), "AMB", "アレルギー外来", "こども医療センター")],
        ),
    ]
