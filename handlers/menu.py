"""The main menu and help: what this user can do, by role."""

from __future__ import annotations

from casework.callbacks import Language, Menu
from casework.console_access import CONSOLE_ROLES
from casework.i18n import Text, _
from casework.labels import person_role
from casework.ledger import EXPORT_ROLES
from casework.reports import REPORT_ROLES
from casework.roster_import import IMPORT_ROLES
from casework.transfers import DECIDER_ROLES, FALLBACK_ROLES
from conversations.engine import Turn
from conversations.replies import Button

OFFICERS = {"township_officer", "county_officer", "admin"}
MANAGERS = OFFICERS | {"school_admin"}  # /users and /invites (casework.invites.MANAGERS)
EVERYONE = frozenset({"teacher", "school_admin", "village_cadre", "township_officer", "county_officer", "admin"})

# (command, description) per role; the same list feeds setMyCommands and /help
COMMANDS: list[tuple[str, Text, frozenset[str]]] = [
    ("report", _("Report a suspected dropout"), frozenset(
        {"teacher", "school_admin", "village_cadre", "township_officer", "county_officer", "admin"})),
    ("visit", _("Record a persuasion visit"), frozenset(
        {"teacher", "school_admin", "village_cadre", "township_officer", "county_officer", "admin"})),
    ("cases", _("My cases"), frozenset(
        {"teacher", "school_admin", "village_cadre", "township_officer", "county_officer", "admin"})),
    ("case", _("One case, its actions and documents: /case 12"), EVERYONE),
    ("forms", _("A case's documents (Word, PDF): /forms 12"), EVERYONE),
    ("review", _("Proposals waiting for your review"), frozenset(OFFICERS)),
    ("stats", _("Periodic report: /stats month or quarter"), frozenset(REPORT_ROLES)),
    ("export", _("The ledger as a workbook (台账)"), frozenset(EXPORT_ROLES)),
    ("import", _("Import a class roster"), frozenset(IMPORT_ROLES)),
    ("verify", _("Verification lists (核查) waiting for you"), EVERYONE),
    ("transfers", _("Transfer requests waiting for you"),
     frozenset({*DECIDER_ROLES, *FALLBACK_ROLES, "admin"}) & EVERYONE),
    ("register", _("Import the register of school-age children"), frozenset({"county_officer"})),
    ("unschooled", _("School-age children with no school and no case"),
     frozenset({"village_cadre", "township_officer", "county_officer"})),
    ("duplicates", _("Possible duplicate records, to merge"), frozenset({"county_officer"})),
    ("invite", _("Invite a colleague"), frozenset(OFFICERS)),
    ("console", _("Sign in to the console on a computer"), frozenset(CONSOLE_ROLES)),
    ("users", _("People in my area"), frozenset(MANAGERS)),
    ("invites", _("Open invitations"), frozenset(MANAGERS)),
    ("menu", _("Main menu"), frozenset(
        {"teacher", "school_admin", "village_cadre", "township_officer", "county_officer", "admin"})),
    ("language", _("Language / 语言"), frozenset(
        {"teacher", "school_admin", "village_cadre", "township_officer", "county_officer", "admin"})),
    ("help", _("Help"), frozenset(
        {"teacher", "school_admin", "village_cadre", "township_officer", "county_officer", "admin"})),
    ("cancel", _("Cancel what you are doing"), frozenset(
        {"teacher", "school_admin", "village_cadre", "township_officer", "county_officer", "admin"})),
]


def commands_for(role: str) -> list[tuple[str, Text]]:
    return [(name, text) for name, text, roles in COMMANDS if role in roles]


def show_menu(turn: Turn, note: Text | None = None, *, unfinished: Text | None = None) -> None:
    """The main menu; ``unfinished`` names a flow the user left mid-way (kept, resumable)."""
    role = turn.user.role
    lines = [turn.t(note)] if note else []
    if unfinished is not None:
        lines.append(turn.t(_("Your “{flow}” is kept where you left it: tap Continue, or send "
                              "/cancel to drop it.", flow=unfinished)))
    lines.append(
        # one bracket for unit and role: 郝柏玉（上坪村，村干部）
        turn.t(_("{person}. What would you like to do?", person=person_role(turn.user.display_name, role)))
    )
    rows = [
        [Button(_("📝 Report a suspected dropout"), Menu("report").encode())],
        [Button(_("🏠 Record a persuasion visit"), Menu("visit").encode())],
        [Button(_("📋 My cases"), Menu("cases").encode())],
    ]
    # an officer's own tools: the review queue, the periodic report, the ledger
    if role in OFFICERS:
        rows.append([Button(_("🔎 Proposals to review"), Menu("review").encode())])
    tools = []
    if role in REPORT_ROLES:
        tools.append(Button(_("📊 Monthly report"), Menu("stats").encode()))
    if role in EXPORT_ROLES:
        tools.append(Button(_("📥 Ledger (台账)"), Menu("export").encode()))
    if tools:
        rows.append(tools)
    if role in OFFICERS:
        rows.append([Button(_("✉️ Invite a colleague"), Menu("invite").encode())])
    rows.append([Button(_("🌐 Language / 语言"), Menu("language").encode())])
    if unfinished is not None:
        rows.insert(0, [Button(_("↩️ Continue"), Menu("resume").encode())])
    turn.replies.send_text("\n".join(lines), rows)


def show_help(turn: Turn) -> None:
    lines = [turn.t(_("What you can do:"))]
    lines += [f"/{name} — {turn.t(text)}" for name, text in commands_for(turn.user.role)]
    lines.append("")
    lines.append(turn.t(_("In the middle of a question you can always use /cancel, /menu, /help or /language.")))
    turn.replies.send_text("\n".join(lines))


def ask_language(turn: Turn) -> None:
    turn.replies.send(
        _("Choose your language / 选择语言"),
        [[Button(Text("中文"), Language("zh_Hans").encode()), Button(Text("English"), Language("en").encode())]],
    )
