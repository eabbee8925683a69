"""``onefile-worker mapping check``: every ID in the mapping, looked up in Onefile.

Calls: one ``FrameworkTemplate/Search``, one ``Standard/Search`` and one
``Unit/Search`` per standard the mapping names (units are searched by standard, so a
unit listed under the wrong standard is caught too).
"""

from __future__ import annotations

from worker.config import Settings
from worker.mapping import Mapping
from worker.onefile import OnefileClient

__all__ = ["check_mapping"]


async def check_mapping(settings: Settings, mapping: Mapping) -> list[str]:
    """Return one readable line per problem; an empty list means all IDs are known."""
    problems: list[str] = []
    async with OnefileClient(
        settings.onefile_base_url, settings.onefile_customer_token,
        rate_limit_per_minute=settings.onefile_rate_limit_per_minute,
        timeout_s=settings.onefile_timeout_s, page_size=settings.onefile_page_size,
    ) as client:
        templates = {t.id for t in await client.search_framework_templates()}
        standards = {s.id for s in await client.search_standards()}
        units_of: dict[int, set[str]] = {}
        for code, plan in sorted(mapping.courses.items()):
            if plan.framework_template_id is not None:
                if plan.framework_template_id not in templates:
                    problems.append(f"course {code!r}: framework template "
                                    f"{plan.framework_template_id} not found in Onefile")
                continue
            for standard in plan.standards or ():
                if standard.id not in standards:
                    problems.append(f"course {code!r}: standard {standard.id} not found "
                                    "in Onefile")
                    continue
                if standard.id not in units_of:
                    units = await client.search_units(standard_id=standard.id)
                    units_of[standard.id] = {str(u.id) for u in units}
                for unit in standard.units:
                    if str(unit) not in units_of[standard.id]:
                        problems.append(f"course {code!r}: unit {unit} not found under "
                                        f"standard {standard.id} in Onefile")
    return problems
