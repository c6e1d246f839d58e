"""Outcomes and their review (销号) through the real PTB stack and the fake Bot API: back at
school from the case's button; home teaching, deferral (with an end date), transfer and the
close-out after a return proposed with the evidence the policy names (a 2×2 image and a
reason like "x" refused); the reviewer opens the evidence from the outbox's message or
/review, approves with a confirmation or rejects with a reason, and the proposer hears the
answer; the proposer never reviews their own proposal; a case paused and resumed."""

from __future__ import annotations

from datetime import date

from casework import ladder
from models.tables import Case, CaseEvent, ConversationState, Deadline, OutboxMessage, Proposal
from sandbox.fakebot import TINY_PNG
from sandbox.fakebot.files import _png
from tests.botkit import (
    act,
    conversation,
    deliver_outbox,
    one,
    open_case,
    rows,
    run_agenda,
    speaking,
    to_township,
)
from tests.test_bot_access import forge_tap

PHOTO = _png(640, 480)  # a photo of a certificate, as a phone sends it


async def test_back_at_school_from_the_case_and_the_others_are_told(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    pupil = world.students_of_class(world.classes[4])[1]
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(f"/case {case_id}")
    await teacher.tap("✅ Back at school")
    assert teacher.last == "Since when is the child back at school?"
    await teacher.send("11-30")
    assert teacher.last.split("\n")[0] == "The date Nov 30, 2026 is in the future."
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
    assert admin.last is None  # good news waits for the admin's next agenda (casework.agenda)
    run_agenda(harness)
    await deliver_outbox(harness)
    assert admin.last.split("\n")[1] == (
        f"• Good news: #{case_id} {pupil.name} (Grade 7 Class 1, 梅林中学) is back at school.")


async def test_home_teaching_needs_the_named_evidence_and_the_township_reviews_it(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    pupil = world.students_of_class(world.classes[4])[1]
    title = f"#{case_id} {pupil.name} (Grade 7 Class 1, 梅林中学)"
    me = world.users["teacher"]
    teacher = speaking(harness, me, "en")
    officer = speaking(harness, world.users["township_officer"], "en")
    await teacher.send(f"/case {case_id}")
    await teacher.tap("📄 Propose an outcome")
    assert teacher.last == "Which outcome do you propose?"
    await teacher.tap("Home teaching")
    assert teacher.last == "Why? (the policy asks for the grounds)"
    await teacher.send("x")  # not a reason anyone could check
    assert teacher.last.split("\n")[0] == (
        "Say why in a few words (at least 4 characters), so the reviewer can check it.")
    await teacher.send("重度残疾，无法到校")
    # the prompt names the evidence the policy asks for (datian: a certificate)
    ask = "Send the Hospital diagnosis or disability certificate (1 of 1): a clear photo or a document, then Done."
    assert teacher.last == ask

    await teacher.tap("Done ✓")  # the evidence is required: nothing sent, the step stays
    assert teacher.callback_answer.text == "Send at least one photo or document first."
    assert teacher.callback_answer.show_alert
    await teacher.send_photo(TINY_PNG)  # a 2×2 image is not a photo of anything
    assert teacher.last.split("\n")[0] == (
        "This image is only 2×2 pixels, too small to show anything. "
        "Send a clear photo (at least 200 pixels on its short side).")
    assert conversation(harness, me).step == "ev0" and not conversation(harness, me).draft.get("ev0")
    await teacher.send_document(b"%PDF-1.4 disability certificate", "残疾证.pdf")
    assert teacher.last == "Received (1). Send more, or tap Done."
    await teacher.tap("Done ✓")
    assert teacher.last == "\n".join([
        f"Case {title}: proposed outcome",
        "• Outcome: Home teaching", "• Reason: 重度残疾，无法到校",
        "• Evidence: Hospital diagnosis or disability certificate: 1 attached", "",
        "Check the details, then confirm."])
    assert rows(harness, Proposal) == []
    await teacher.tap("✅ Confirm")
    assert teacher.reply_texts[1] == "Proposal sent for approval (Home teaching)."

    proposal = one(harness, Proposal)
    assert (proposal.outcome, proposal.status, proposal.proposed_by) == ("home_teaching", "pending", me.id)
    assert [(e["kind"], e["name"], e["evidence_kind"]) for e in proposal.evidence] == [
        ("document", "残疾证.pdf", "medical_certificate")]
    assert one(harness, Case).state == "suspected"  # nothing changes before the review
    assert "step" in [d.kind for d in rows(harness, Deadline, Deadline.status == "open")]  # the clock runs

    # one proposal at a time: the case no longer offers another, and says what it waits for
    await teacher.send(f"/case {case_id}")
    assert teacher.last.endswith("\n\nWaiting for approval: Home teaching. Reason: 重度残疾，无法到校")
    assert teacher.buttons() == ["🏠 Record a visit", "✅ Back at school",  # then the case's documents
                                 "Registration sheet with the full record (一生一表)", "School persuasion record (表4)"]

    await deliver_outbox(harness)
    request = next(m for m in officer.messages if m.content.startswith("Review requested"))
    assert request.content == (f"Review requested for case {title}: Home teaching. "
                               "Reason: 重度残疾，无法到校. Evidence: 1 file(s).")
    assert [label for row in request.buttons() for label, _data in row] == [
        "🔎 Review the evidence", "Open case"]
    await officer.tap("🔎 Review the evidence", message=request)
    # the evidence comes before the decision
    assert [r.message.kind for r in officer.replies] == ["text", "document", "text"]
    assert officer.reply_texts[0] == "\n".join([
        f"Review: case {title}", "Proposed outcome: Home teaching", f"Proposed by {me.display_name}",
        "Reason: 重度残疾，无法到校", "Evidence required: Hospital diagnosis or disability certificate",
        "1 file(s) follow."])
    assert officer.replies[1].message.file_ids() == [proposal.evidence[0]["file_id"]]
    assert officer.replies[1].text == "Hospital diagnosis or disability certificate"
    assert officer.last == f"Approve or reject the proposal for case #{case_id}?"
    await officer.tap("Approve")
    assert officer.last == (f"Approving puts case #{case_id} into home teaching: the persuasion deadlines "
                            "stop and the follow-ups of home teaching begin.")
    assert one(harness, Proposal).status == "pending"  # not before the second tap
    await officer.tap("✅ Yes, approve")
    assert officer.last == f"Case #{case_id} is now home teaching."

    case = one(harness, Case)
    assert (case.state, case.outcome, case.outcome_note) == ("home_teaching", "home_teaching", "重度残疾，无法到校")
    proposal = one(harness, Proposal)
    assert (proposal.status, proposal.decided_by) == ("approved", world.users["township_officer"].id)
    assert one(harness, CaseEvent, CaseEvent.kind == "outcome").data["approved_by"] == proposal.decided_by

    await deliver_outbox(harness)
    assert teacher.last == f"Your proposal for case {title} (Home teaching) was approved."
    # a second tap on the old request changes nothing
    await officer.tap("🔎 Review the evidence", message=request)
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
    assert teacher.last == "截止到哪一天？（如 2027年2月22日）"
    await teacher.send("今天")
    assert teacher.last.split("\n")[0] == "请填写今天以后的日期。"
    assert conversation(harness, world.users["teacher"]).step == "until"
    await teacher.send("2027-02-22")
    # datian: the guardian's written application, then the diagnosis
    assert teacher.last == "请发送监护人书面申请（第1项，共2项）：清晰的照片或文件，然后点“完成”。"
    await teacher.send_photo(PHOTO, caption="缓学申请")
    await teacher.tap("完成")
    assert teacher.last == "请发送医院诊断证明或残疾证明（第2项，共2项）：清晰的照片或文件，然后点“完成”。"
    await teacher.send_photo(PHOTO, caption="诊断证明")
    await teacher.tap("完成")
    assert "• 截止日期：2027年2月22日" in teacher.last
    await teacher.tap("✅ 确认")
    assert teacher.reply_texts[1] == "处理意见已提交审批（缓学）。"
    proposal = one(harness, Proposal)
    assert proposal.until_on == date(2027, 2, 22)
    assert [e["evidence_kind"] for e in proposal.evidence] == ["guardian_application", "medical_certificate"]

    await deliver_outbox(harness)
    assert officer.last == (f"个案#{case_id} 梅林中学七年级（1）班{pupil.name}申请审核：缓学。"
                            "理由：身体原因，需休养一学期。佐证材料：2个文件。")
    await officer.tap("🔎 查看佐证材料")
    assert [r.message.kind for r in officer.replies] == ["text", "photo", "photo", "text"]
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
    assert teacher.last == (f"您对个案#{case_id} 梅林中学七年级（1）班{pupil.name}提出的处理意见（缓学）"
                            "已被驳回：请先完成三次联合劝返")
    decision = one(harness, OutboxMessage, OutboxMessage.kind == "decision")
    assert (decision.recipient_id, decision.status) == (world.users["teacher"].id, "sent")


async def test_a_transfer_waits_in_the_review_queue_and_the_proposer_cannot_review_it(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    to_township(harness, world, case_id)
    proposer_user = world.users["township_officer"]
    proposer = speaking(harness, proposer_user, "en")
    await proposer.send(f"/case {case_id}")
    await proposer.tap("📄 Propose an outcome")
    await proposer.tap("Transferred")
    await proposer.send("随父母迁往广州，已在当地入学")
    assert proposer.last == ("Send the Receiving school's enrolment confirmation (student register) (1 of 1): "
                             "a clear photo or a document, then Done.")
    await proposer.send_photo(PHOTO, caption="学籍证明")
    await proposer.tap("Done ✓")
    await proposer.tap("✅ Confirm")
    assert proposer.reply_texts[1] == "Proposal sent for approval (Transferred)."
    case = one(harness, Case)
    assert (case.state, case.closed_at) == ("township_persuasion", None)  # still open, clock running
    proposal = one(harness, Proposal)

    # a township officer's own proposal: not theirs to review, even by a forged button
    await proposer.send("/review")
    assert proposer.last == "Nothing is waiting for your review."
    await proposer.send(f"/case {case_id}")
    assert "🔎 Review the evidence" not in proposer.buttons()
    await forge_tap(proposer, f"apr:{proposal.id}:y")
    assert proposer.last == "You made this proposal; another person must review it."
    assert one(harness, Proposal).status == "pending"

    # the county reviews a township's proposal, from its queue
    county = speaking(harness, world.users["county_officer"], "en")
    await county.send("/review")
    pupil = world.students_of_class(world.classes[4])[1]
    assert county.last == "\n".join([
        "Waiting for your review, oldest first:",
        f"#{case_id} {pupil.name} (Grade 7 Class 1, 梅林中学): Transferred"])
    await county.tap(f"🔎 #{case_id} Transferred")
    assert [r.message.kind for r in county.replies] == ["text", "photo", "text"]
    await county.tap("Approve")
    assert county.last == (f"Approving closes case #{case_id} (Transferred): it leaves the open list "
                           "and its deadlines stop.")
    await county.tap("✅ Yes, approve")
    assert county.last == f"Case #{case_id} is now transferred to another school."
    case = one(harness, Case)
    assert case.state == "transferred" and case.closed_at is not None
    assert rows(harness, Deadline, Deadline.status == "open") == []
    await county.send("/review")
    assert county.last == "Nothing is waiting for your review."


async def test_close_out_after_the_return_takes_a_class_photo_and_a_review(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    act(harness, lambda cw: ladder.mark_returned(cw, world.users["teacher"], case_id))
    act(harness, lambda cw: ladder.confirm_attending(cw, world.users["teacher"], case_id, True))
    admin = speaking(harness, world.users["school_admin"], "en")
    await admin.send(f"/case {case_id}")
    assert "🗂 Close out (销号)" in admin.buttons() and "📄 Propose an outcome" not in admin.buttons()
    await admin.tap("🗂 Close out (销号)")
    assert admin.last == "Why? (the policy asks for the grounds)"
    await admin.send("返校后连续在校两周")
    assert admin.last == ("Send the Photo of the child in class (1 of 1): a clear photo or a document, "
                          "then Done.")
    await admin.send_photo(PHOTO, caption="课堂照片")
    await admin.tap("Done ✓")
    assert "• Outcome: Back and staying at school (close out)" in admin.last
    await admin.tap("✅ Confirm")
    assert admin.reply_texts[1] == "Proposal sent for approval (Back and staying at school (close out))."
    assert one(harness, Case).state == "retention"  # open until the review
    await admin.send(f"/case {case_id}")  # one proposal at a time
    assert "🗂 Close out (销号)" not in admin.buttons()

    officer = speaking(harness, world.users["township_officer"], "en")
    await deliver_outbox(harness)
    await officer.tap("🔎 Review the evidence")
    await officer.tap("Approve")
    await officer.tap("✅ Yes, approve")
    assert officer.last == f"Case #{case_id} closed out."
    case = one(harness, Case)
    assert (case.state, case.outcome) == ("closed", "returned")
    assert one(harness, CaseEvent, CaseEvent.kind == "closed").actor_id == world.users["township_officer"].id


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
    assert officer.reply_texts[1] == f"Case #{case_id} paused until Dec 7."

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
