"""The API's JSON renderer: DRF's output, written by orjson where orjson writes the same thing.

A 1,000-row batch answer took DRF's renderer (``json.dumps`` with its encoder class) about 1.7 ms and takes this
one about 0.3 ms (``bench/micro_bench.py json``). Anything orjson does not write exactly as DRF does goes to DRF's
renderer: an indented answer (asked for in the Accept header), an integer beyond 64 bits, a key that is not a
string, a string that is not valid UTF-8. Dates, decimals, lazy strings, numpy values and dataclasses go through
DRF's encoder, as before; UUIDs orjson writes itself, as DRF does (their canonical text). One difference: a float
NaN or infinity is written null, where DRF wrote the bare words NaN and Infinity, which are not JSON (its
``strict`` is off by default) and which strict JSON parsers refuse.
"""

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
            return super().render(data, accepted_media_type, renderer_context)
        try:
            out = orjson.dumps(data, default=_ENCODER.default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80" in out:
            for raw, escaped in _LINE_SEPARATORS:
                out = out.replace(raw, escaped)
        return out


_ENCODER = JSONEncoder()
