"""The province filters of the product list, its export and its statistics: a current province or a
pre-2025 one (issue 11: "Trà Vinh" and "Bến Tre" both became Vĩnh Long, and stay apart here).

- ``province``: a current province selects all its records, whatever name they were entered under
  ("Vĩnh Long": Bến Tre's and Trà Vinh's too); a pre-2025 name that is not a current one selects
  the records entered under it ("Trà Vinh": Trà Vinh's only).
- ``old_province``: a pre-2025 province, always the records entered under that name, also where the
  old name is the current one's ("Tây Ninh": those entered as Tây Ninh, not Long An's).

Both load to filters on the name as entered (``province_entered``, the canonical spelling stored on
the producer) or on the current province (``province``, copied onto its products)."""

from __future__ import annotations

from marshmallow import ValidationError

from shared import reference

# Why a search result matched (ProductListItem.matched), in the order the results are ranked.
MATCHED = ("product_name", "producer_name")


def _resolve(entered: str, field: str) -> reference.Province:
    try:
        return reference.resolve_province(entered)
    except reference.UnknownName:
        raise ValidationError(f"unknown province {entered!r}", field_name=field) from None


def province_filters(data: dict) -> dict:
    """Loaded query -> filters: ``province`` (current), ``province_entered`` (from a pre-2025 name in
    ``province``) and ``old_province`` (always a name as entered)."""
    if data.get("province") is not None:
        province = _resolve(data["province"], "province")
        if province.entered_as == province.name:
            data["province"] = province.name
        else:
            del data["province"]
            data["province_entered"] = province.entered_as
    if data.get("old_province") is not None:
        province = _resolve(data["old_province"], "old_province")
        if province.entered_as not in reference.predecessors(province.name):
            raise ValidationError(
                f"{province.entered_as} is not a pre-2025 province; its predecessors are "
                f"{', '.join(reference.predecessors(province.name))}",
                field_name="old_province",
            )
        data["old_province"] = province.entered_as
    return data
