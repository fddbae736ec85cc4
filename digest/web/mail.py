"""The web app's notices (the signup confirmation) go out through digest/delivery/notice.py,
which the scheduler shares for its approval notices."""

from digest.delivery.notice import send_notice

__all__ = ["send_notice"]
