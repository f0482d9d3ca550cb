"""Friendly error pages (never a traceback) and JSON errors for the API routes."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from omr.services import ServiceError
from web.i18n import _

log = logging.getLogger(__name__)

MESSAGES = {
    400: "Yêu cầu không hợp lệ.",
    401: "Vui lòng đăng nhập.",
    403: "Bạn không có quyền xem trang này.",
    404: "Không tìm thấy trang hoặc dữ liệu này.",
    405: "Thao tác không được phép.",
    409: "Mục này vừa được người khác xử lý.",
    413: "Tệp tải lên quá lớn.",
    500: "Có lỗi trong hệ thống. Đã ghi lại để kiểm tra; xin thử lại sau.",
}


def _wants_json() -> bool:
    return (
        request.path.startswith("/api/")
        or "/api/" in request.path
        or request.accept_mimetypes.best == "application/json"
    )


def render_error(code: int, message: str | None = None):
    message = message or _(MESSAGES.get(code, MESSAGES[500]))
    if _wants_json():
        return jsonify(error=message), code
    return render_template("error.html", code=code, message=message), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(e: CSRFError):
        return render_error(
            400, _("Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ. Hãy tải lại trang và thử lại.")
        )

    @app.errorhandler(ServiceError)
    def _service(e: ServiceError):
        return render_error(400, str(e))

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        code = e.code or 500
        if code == 413:
            mb = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
            return render_error(413, _("Tệp tải lên quá lớn (tối đa {mb} MB mỗi lần).").format(mb=mb))
        return render_error(code)

    @app.errorhandler(Exception)
    def _crash(e: Exception):
        log.exception("unhandled error on %s", request.path)
        return render_error(500)
