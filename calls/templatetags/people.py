"""Template filters for showing people: initials for avatars and a stable avatar colour."""

from django import template

register = template.Library()

AVATAR_TONES = 8  # .avatar[data-tone="0".."7"] in static/css/app.css


@register.filter
def initials(name: str) -> str:
    """Up to two letters: the first of the first two words ("Alice Liddell" -> "AL"); one CJK character."""
    words = str(name).split()
    if not words:
        return "?"
    first = words[0][0]
    if not first.isascii() or len(words) == 1:
        return first.upper()
    return (first + words[1][0]).upper()


@register.filter
def avatar_tone(user_id) -> int:
    """The same colour for a person everywhere: their id modulo the palette's size (ui.js can do the same)."""
    try:
        return int(user_id) % AVATAR_TONES
    except (TypeError, ValueError):
        return 0
