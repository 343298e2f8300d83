"""Channel-layer group names, made in one place."""


def user_group(user_id: int) -> str:
    """Every open tab of one user."""
    return f"user.{user_id}"
