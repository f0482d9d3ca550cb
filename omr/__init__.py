"""Đọc phiếu khảo sát mức độ hài lòng: the reading core and the services built on it."""
