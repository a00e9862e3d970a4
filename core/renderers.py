"""The API's JSON renderer: DRF's output, written by orjson where orjson writes the same thing.

Serialising a batch answer with ``json.dumps`` and DRF's encoder class costs several times what orjson does.
Whatever orjson would write differently goes to DRF's renderer (an indented answer, an integer beyond 64 bits, a
non-string key, invalid UTF-8); dates, decimals, lazy strings, numpy values and dataclasses go through DRF's
encoder. One difference: a float NaN or infinity is written null, not DRF's bare NaN/Infinity, which are not JSON.
"""

import json

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

# orjson writes these itself, in forms of its own (dates without DRF's "Z"): handed to DRF's encoder instead.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# Valid JSON that is not valid JavaScript: DRF escapes them, so does this renderer.
_LINE_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


class FastJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        indent = self.get_indent(accepted_media_type, renderer_context or {})
        if data is None or indent is not None or not self.compact or self.ensure_ascii:
            return self._drf_render(data, accepted_media_type, renderer_context)
        try:
            out = orjson.dumps(data, default=_ENCODER.default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return self._drf_render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80" in out:
            for raw, escaped in _LINE_SEPARATORS:
                out = out.replace(raw, escaped)
        return out

    def _drf_render(self, data, accepted_media_type, renderer_context) -> bytes:
        """DRF's rendering; an answer echoing a lone surrogate (input refused for holding one) has it escaped, as
        JSON allows, where UTF-8 cannot hold it (it raised, a 500)."""
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            text = json.dumps(
                data, cls=self.encoder_class, ensure_ascii=True, allow_nan=not self.strict, separators=_SHORT
            )
            return text.encode()


_ENCODER = JSONEncoder()
_SHORT = (",", ":")
