"""Outcomes and approvals through the real PTB stack and the fake Bot API: back at school
from the case's button; home teaching, deferral (with an end date) and transfer proposed
with evidence; the township officer approves or rejects (with a reason) from the message
the outbox brings, and the proposer hears the answer; a case paused and resumed."""

from __future__ import annotations

from datetime import date

from casework import ladder
from models.tables import Case, CaseEvent, ConversationState, Deadline, OutboxMessage, Proposal
from tests.botkit import act, conversation, deliver_outbox, one, open_case, rows, speaking


async def test_back_at_school_from_the_case_and_the_others_are_told(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    pupil = world.students_of_class(world.classes[4])[1]
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(f"/case {case_id}")
    await teacher.tap("✅ Back at school")
    assert teacher.last == "Since when is the child back at school?"
    await teacher.send("11-30")
    assert teacher.last.split("\n")[0] == "The date 2026-11-30 is in the future."
    await teacher.tap("Today (Nov 23)")
    assert teacher.last == "\n".join([
        f"Case #{case_id} {pupil.name} (Grade 7 Class 1, 梅林中学): back at school",
        "• Back since: Nov 23, 2026", "", "Check the details, then confirm."])
    await teacher.tap("✅ Confirm")
    assert teacher.reply_texts[1] == (
        f"Case #{case_id}: the child is back at school. Retention check-ins are scheduled.")

    case = one(harness, Case)
    assert (case.state, case.returned_on, case.outcome) == ("returned", date(2026, 11, 23), "returned")
    assert [d.kind for d in rows(harness, Deadline, Deadline.status == "open")] == ["retention"] * 3
    admin = speaking(harness, world.users["school_admin"], "en")
    await deliver_outbox(harness)
    assert admin.last == f"Good news: #{case_id} {pupil.name} (Grade 7 Class 1, 梅林中学) is back at school."


async def test_home_teaching_needs_evidence_and_the_township_approves(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    pupil = world.students_of_class(world.classes[4])[1]
    me = world.users["teacher"]
    teacher = speaking(harness, me, "en")
    officer = speaking(harness, world.users["township_officer"], "en")
    await teacher.send(f"/case {case_id}")
    await teacher.tap("📄 Propose an outcome")
    assert teacher.last == "Which outcome do you propose?"
    await teacher.tap("Home teaching")
    assert teacher.last == "Why? (the policy asks for the grounds)"
    await teacher.send("重度残疾，无法到校")
    assert teacher.last == "Send the evidence (a photo of the certificate, a document), then Done."

    await teacher.tap("Done ✓")  # the evidence is required: nothing sent, the step stays
    assert teacher.callback_answer.text == "Send at least one photo or document first."
    assert teacher.callback_answer.show_alert
    assert conversation(harness, me).step == "evid"
    await teacher.send_document(b"%PDF-1.4 disability certificate", "残疾证.pdf")
    assert teacher.last == "Received (1). Send more, or tap Done."
    await teacher.tap("Done ✓")
    assert teacher.last == "\n".join([
        f"Case #{case_id} {pupil.name} (Grade 7 Class 1, 梅林中学): proposed outcome",
        "• Outcome: Home teaching", "• Reason: 重度残疾，无法到校", "• Evidence: 1 attached", "",
        "Check the details, then confirm."])
    assert rows(harness, Proposal) == []
    await teacher.tap("✅ Confirm")
    assert teacher.reply_texts[1] == "Proposal sent for approval (Home teaching)."

    proposal = one(harness, Proposal)
    assert (proposal.outcome, proposal.status, proposal.proposed_by) == ("home_teaching", "pending", me.id)
    assert proposal.reason == "重度残疾，无法到校" and proposal.until_on is None
    assert [(e["kind"], e["name"]) for e in proposal.evidence] == [("document", "残疾证.pdf")]
    assert one(harness, Case).state == "suspected"  # nothing changes before the decision

    # one proposal at a time: the case no longer offers another, and says what it waits for
    await teacher.send(f"/case {case_id}")
    assert teacher.last.endswith("\n\nWaiting for approval: Home teaching. Reason: 重度残疾，无法到校")
    assert teacher.buttons() == ["🏠 Record a visit", "✅ Back at school"]

    await deliver_outbox(harness)
    request = next(m for m in officer.messages if m.content.startswith("Approval requested"))
    assert request.content == (f"Approval requested for case #{case_id} {pupil.name} (Grade 7 Class 1, 梅林中学): "
                               "Home teaching. Reason: 重度残疾，无法到校")
    assert [label for row in request.buttons() for label, _data in row] == ["Approve", "Reject", "Open case"]
    await officer.tap("Approve", message=request)
    assert officer.last == f"Case #{case_id} is now home teaching."
    assert officer.callback_answer.text == f"Case #{case_id} is now home teaching."

    case = one(harness, Case)
    assert (case.state, case.outcome, case.outcome_note) == ("home_teaching", "home_teaching", "重度残疾，无法到校")
    proposal = one(harness, Proposal)
    assert (proposal.status, proposal.decided_by) == ("approved", world.users["township_officer"].id)
    assert one(harness, CaseEvent, CaseEvent.kind == "outcome").data["approved_by"] == proposal.decided_by

    await deliver_outbox(harness)
    assert teacher.last == (f"Your proposal for case #{case_id} {pupil.name} (Grade 7 Class 1, 梅林中学) "
                            "(Home teaching) was approved.")
    # a second tap on the old request changes nothing
    await officer.tap("Approve", message=request)
    assert officer.last == "This proposal was already decided."
    await officer.tap("Reject", message=request)
    assert officer.last == "This proposal was already decided."
    assert conversation(harness, world.users["township_officer"]) is None


async def test_a_deferral_is_rejected_with_a_reason_and_the_proposer_reads_it_in_chinese(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    pupil = world.students_of_class(world.classes[4])[1]
    teacher = harness.user(world.users["teacher"])  # both in Chinese
    officer_user = world.users["township_officer"]
    officer = harness.user(officer_user)
    await teacher.send(f"/case {case_id}")
    await teacher.tap("📄 提出处理意见")
    await teacher.tap("缓学")
    await teacher.send("身体原因，需休养一学期")
    assert teacher.last == "截止到哪一天？（如 2027-02-22）"
    await teacher.send("今天")
    assert teacher.last.split("\n")[0] == "请填写今天以后的日期。"
    assert conversation(harness, world.users["teacher"]).step == "until"
    await teacher.send("2027-02-22")
    await teacher.send_photo(caption="诊断证明")
    await teacher.tap("完成")
    assert "• 截止日期：2027年2月22日" in teacher.last
    await teacher.tap("✅ 确认")
    assert teacher.reply_texts[1] == "处理意见已提交审批（缓学）。"
    assert one(harness, Proposal).until_on == date(2027, 2, 22)

    await deliver_outbox(harness)
    assert officer.last == (f"个案#{case_id} {pupil.name}（梅林中学7年级1班）申请审批：缓学。理由：身体原因，需休养一学期")
    await officer.tap("驳回")
    assert officer.last == "驳回的理由是什么？提议人会看到这条说明。"
    await officer.send("请先完成三次联合劝返")
    assert "• 理由：请先完成三次联合劝返" in officer.last
    assert one(harness, Proposal).status == "pending"  # not before Confirm
    await officer.tap("✅ 确认")
    assert officer.reply_texts[1] == "已驳回该处理意见。"

    proposal = one(harness, Proposal)
    assert (proposal.status, proposal.decision_note, proposal.decided_by) == (
        "rejected", "请先完成三次联合劝返", officer_user.id)
    case = one(harness, Case)
    assert (case.state, case.outcome, case.outcome_until) == ("suspected", None, None)
    assert rows(harness, ConversationState) == []

    await deliver_outbox(harness)
    assert teacher.last == (f"您对个案#{case_id} {pupil.name}（梅林中学7年级1班）提出的处理意见（缓学）"
                            "已被驳回：请先完成三次联合劝返")
    decision = one(harness, OutboxMessage, OutboxMessage.kind == "decision")
    assert (decision.recipient_id, decision.status) == (world.users["teacher"].id, "sent")


async def test_a_transfer_takes_effect_at_once_and_an_edited_outcome_drops_the_end_date(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(f"/case {case_id}")
    await teacher.tap("📄 Propose an outcome")
    await teacher.tap("Suspension of schooling")
    await teacher.send("随父母迁往广州")
    assert teacher.last == "Until what date? (e.g. 2027-02-22)"
    await teacher.send("2027-07-01")
    await teacher.send_photo(caption="转学接收证明")
    await teacher.tap("Done ✓")
    assert "• Until: Jul 1, 2027" in teacher.last
    # it is a transfer after all: the end date goes with the branch
    await teacher.tap("✏️ Outcome")
    await teacher.tap("Transferred")
    assert "Until" not in teacher.last and "• Outcome: Transferred" in teacher.last
    await teacher.tap("✅ Confirm")
    # datian asks approval only for home teaching and deferral
    assert teacher.reply_texts[1] == f"Case #{case_id} is now transferred to another school."

    case = one(harness, Case)
    assert (case.state, case.outcome, case.outcome_until) == ("transferred", "transferred", None)
    assert case.closed_at is not None
    proposal = one(harness, Proposal)
    assert (proposal.outcome, proposal.until_on, proposal.decided_by) == ("transferred", None, None)
    await teacher.send("/cases")
    assert teacher.last == "You have no open cases."


async def test_pause_with_a_reason_and_a_resume_date_then_resume(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send(f"/case {case_id}")
    await officer.tap("⏸ Pause")
    assert officer.last == "Why pause the case? (e.g. in hospital)"
    await officer.send("住院治疗")
    assert officer.last == "On what date should the clock start again?"
    await officer.send("11-23")
    assert officer.last.split("\n")[0] == "Give a date after today."
    await officer.send("12月7日")
    assert "• Resume on: Dec 7, 2026" in officer.last
    await officer.tap("✅ Confirm")
    assert officer.reply_texts[1] == f"Case #{case_id} paused until 2026-12-07."

    case = one(harness, Case)
    assert (case.state, case.paused_from, case.pause_reason, case.resume_on) == (
        "paused", "suspected", "住院治疗", date(2026, 12, 7))
    assert [d.kind for d in rows(harness, Deadline, Deadline.status == "open")] == ["resume"]

    await officer.send(f"/case {case_id}")
    assert "Paused until Dec 7: 住院治疗" in officer.last
    await officer.tap("▶️ Resume")
    assert officer.last == f"Case #{case_id} resumed: suspected dropout."
    case = one(harness, Case)
    assert (case.state, case.paused_from, case.resume_on) == ("suspected", None, None)
    assert "step" in [d.kind for d in rows(harness, Deadline, Deadline.status == "open")]
    # a teacher may not pause
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(f"/case {case_id}")
    assert "⏸ Pause" not in teacher.buttons()


async def test_a_visit_cannot_start_on_a_case_that_is_not_active(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    act(harness, lambda cw: ladder.mark_returned(cw, world.users["teacher"], case_id))
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(f"/visit {case_id}")
    assert teacher.last == f"Case #{case_id} is returned to school; no visit can be recorded on it now."
    assert conversation(harness, world.users["teacher"]) is None
