"""How much of a child's personal numbers a reader gets in a file: in full or masked.

Chat always masks (DESIGN §5). Files are different: offices print them and act on them,
so a role gets in full exactly what its work needs, and everything else is masked the
same way the chat masks it:

- ID and student numbers (居民身份证号码, 全国学籍号): the school keeps the register they
  come from and the county bureau reconciles it with the national 学籍 system; the
  township and the village persuade families and need neither.
- Guardians' phone numbers (联系电话): everyone who persuades or organises persuasion
  (school, township, county) calls the family; a teacher or a village cadre reads their
  own case in the chat and gets files masked.

One table, used by the ledger, the per-child documents and the periodic reports alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from casework.personal import mask_id, mask_phone, mask_student_number

FULL_ID_ROLES = frozenset({"school_admin", "county_officer", "admin"})
FULL_PHONE_ROLES = frozenset({"school_admin", "township_officer", "county_officer", "admin"})


@dataclass(frozen=True)
class Disclosure:
    """Which numbers are shown in full; ``None`` values stay empty either way."""

    id_numbers: bool
    phones: bool

    @classmethod
    def for_role(cls, role: str) -> Disclosure:
        return cls(id_numbers=role in FULL_ID_ROLES, phones=role in FULL_PHONE_ROLES)

    @classmethod
    def masked(cls) -> Disclosure:
        return cls(id_numbers=False, phones=False)

    @classmethod
    def full(cls) -> Disclosure:
        return cls(id_numbers=True, phones=True)

    @property
    def code(self) -> str:
        """For the audit log: what left the system in full."""
        if self.id_numbers and self.phones:
            return "full"
        if self.phones:
            return "phones"
        if self.id_numbers:
            return "ids"
        return "masked"

    def id_number(self, value: str | None) -> str | None:
        if not value:
            return None
        return value if self.id_numbers else mask_id(value)

    def student_number(self, value: str | None) -> str | None:
        if not value:
            return None
        return value if self.id_numbers else mask_student_number(value)

    def phone(self, value: str | None) -> str | None:
        if not value:
            return None
        return value if self.phones else mask_phone(value)
