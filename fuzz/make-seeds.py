#!/usr/bin/env python3
"""Writes non-ASCII seed inputs for the `har` and `openapi` targets, and a libFuzzer
dictionary of multi-byte tokens, under fuzz/corpus/ (git-ignored).

    cd fuzz && python3 make-seeds.py      # after the fixture copies of README.md

Seeds put multi-byte UTF-8 (2-, 3- and 4-byte characters, combining marks, zero-width and
right-to-left characters, U+FFFD, NUL) where the front ends cut, decode or split text:
header names and values, URLs (paths, queries, percent escapes such as `%aé` and `%C3%A9`),
HTML entities next to multi-byte characters (`&aaaaaaaaaaé;`), hidden inputs and meta tags,
cookies, Location headers, JSON bodies and keys, form bodies; and in OpenAPI documents: paths
and their `{parameters}`, `$ref` JSON pointers (`%`, `~0`, `~1` beside multi-byte characters),
schema property names, patterns, enums, examples, link expressions, server URLs and
variables, long non-ASCII summaries (cut for comments). Deterministic: no randomness.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# Characters of each UTF-8 length and the awkward ones.
WORDS = [
    "é", "ü", "ß", "ñ", "Ω", "д", "й", "☺", "€", "中文", "日本語", "한국어", "😀", "𝔘𝔫𝔦",
    "e\u0301", "\u200b", "\u200d", "\u202e", "\ufeff", "\ufffd", "\u00a0", "\u0000",
]
MIXED = "café-Ωmega-☺-😀-e\u0301-\u200b-\u202e"
LONG = "é" * 90 + "☺" * 60 + "😀" * 40  # past every cut-for-a-message length


def har_entry(i, method, url, req_headers, status=200, resp_headers=None, mime="text/html",
              body="", post=None, cookies=None):
    e = {
        "startedDateTime": f"2024-05-01T10:00:{i:02}.000Z",
        "time": 12,
        "request": {
            "method": method, "url": url, "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in req_headers],
            "queryString": [], "cookies": cookies or [], "headersSize": -1, "bodySize": -1,
        },
        "response": {
            "status": status, "statusText": "OK", "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in (resp_headers or [])]
            + [{"name": "Content-Type", "value": mime}],
            "cookies": [],
            "content": {"size": len(body.encode()), "mimeType": mime, "text": body},
            "redirectURL": "", "headersSize": -1, "bodySize": -1,
        },
        "cache": {}, "timings": {"send": 1, "wait": 10, "receive": 1},
    }
    if post is not None:
        e["request"]["postData"] = post
    return e


def har(entries):
    return {"log": {"version": "1.2", "creator": {"name": "seed-é", "version": "1"},
                    "entries": entries}}


def har_seeds():
    base = "https://bücher.example.test"
    enc = ("Accept-Encoding", "gzip, deflate, br, zstd")
    html = (
        "<html><head><meta name=\"csrf-token\" content=\"tök-☺-Zq8+tW3x&amp;é\"></head><body>"
        "<p>&aaaaaaaaaaé; &aaaaaaaaaé; &aaaaaaaaé; &#233; &#x1F600; &eacute; &é; &&☺;</p>"
        "<form method=\"post\" action=\"/anmelden/straße?x=é\">"
        "<input type=\"hidden\" name=\"jeton_é\" value=\"&aaaaaaaaaaé;Zq8+tW3x/9KfLp0aYb2c==\">"
        "<input type=\"hidden\" name=\"csrf\" value='Zq8+tW3x9KfLp0aYb2cé&#x263A;'>"
        "<input name=\"benutzer\"></form></body></html>"
    )
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiLDqSJ9.c2lnbmF0dXJl"
    yield "nonascii-login", har([
        har_entry(0, "GET", f"{base}/anmelden/straße?q=é&w=%C3%A9&bad=%aé&pct=%é&x=%",
                  [enc, ("Accept-Language", "de-DE,dé;q=0.9"), ("X-Name-é", "wért ☺"),
                   ("User-Agent", "Mozilla/5.0 (é) 😀")],
                  body=html, mime="text/html; charset=utf-8",
                  resp_headers=[("Set-Cookie", "sitzung=wért-☺-123456789abc; Path=/é")]),
        har_entry(1, "POST", f"{base}/anmelden/straße?x=é",
                  [enc, ("Content-Type", "application/x-www-form-urlencoded"),
                   ("X-CSRF-Token", "tök-☺-Zq8+tW3x&é"), ("Origin", base)],
                  status=302, resp_headers=[("Location", "/konto/%C3%BC/ü?n=☺")],
                  post={"mimeType": "application/x-www-form-urlencoded",
                        "text": "jeton_%C3%A9=%26aaaaaaaaaa%C3%A9%3BZq8%2BtW3x%2F9KfLp0aYb2c%3D%3D"
                                "&benutzer=%E2%98%BA&bad=%aé&raw=é☺😀",
                        "params": [{"name": "jeton_é", "value": "&aaaaaaaaaaé;Zq8+tW3x/9KfLp0aYb2c=="},
                                   {"name": "benutzer", "value": "☺"}]},
                  cookies=[{"name": "sitzung", "value": "wért-☺-123456789abc"}]),
        har_entry(2, "GET", f"{base}/konto/%C3%BC/ü?n=☺", [enc],
                  mime="application/json",
                  body=json.dumps({"tökén": token, "ïd": "ü-1234-😀-abcdef123456",
                                   "nächste": "/seite/ä/2", "liste": [{"ïd": "é-99887766"}],
                                   "text": LONG}, ensure_ascii=False)),
        har_entry(3, "GET", f"{base}/api/ü-1234-😀-abcdef123456/é-99887766",
                  [enc, ("Authorization", f"Bearer {token}"), ("X-Api-Key", "schlüssel-☺-0123456789")],
                  mime="application/json", body=json.dumps({"ok": "ja ☺", "nächste": None})),
        har_entry(4, "POST", f"{base}/seite/ä/2",
                  [enc, ("Content-Type", "application/json; charset=utf-8"),
                   ("Authorization", f"Bearer {token}")],
                  mime="application/json", body="{\"é\": \"\\ud83d\\ude00\", \"n\": 1}",
                  post={"mimeType": "application/json",
                        "text": json.dumps({"ïd": "ü-1234-😀-abcdef123456", "wörter": WORDS,
                                            "{{ é }}": "{% raw %}☺{% endraw %}"},
                                           ensure_ascii=False)}),
    ])
    # One request per awkward word, in every place a word goes.
    entries = []
    for i, w in enumerate(WORDS):
        entries.append(har_entry(
            i, "GET", f"https://{w}.example/{w}/%{w}?{w}={w}&k=%{w}#{w}",
            [(f"X-{w}", w), ("Cookie", f"{w}={w}"), ("Referer", f"https://{w}/")],
            mime="text/html", body=f"<a href=\"/{w}\">&{'a' * (i % 12)}{w};</a><input type=hidden name=\"{w}\" value=\"{w}{w}{w}{w}12345678\">",
            resp_headers=[("Location", f"/{w}"), (w, w)]))
    yield "nonascii-words", har(entries)
    # A response body given as base64 (`encoding: base64`) that decodes to non-ASCII HTML.
    doc = har([har_entry(0, "GET", "http://127.0.0.1:9/ä", [("Accept-Encoding", "zstd")],
                         mime="text/html; charset=utf-8", resp_headers=[("Content-Encoding", "br")])])
    content = doc["log"]["entries"][0]["response"]["content"]
    content["text"] = "PGlucHV0IHR5cGU9aGlkZGVuIG5hbWU9dCB2YWx1ZT0iJmFhYWFhYWFhYWHDqTsiPg=="
    content["encoding"] = "base64"
    yield "nonascii-base64-html", doc


def openapi_seeds():
    yield "nonascii-spec.yaml", f"""openapi: 3.0.3
info: {{title: "Bücher ☺ API", version: "1.0-é", description: "{LONG}"}}
servers:
  - url: "http://127.0.0.1:9/{{bäsis}}/ü"
    variables:
      bäsis: {{default: "vé☺", enum: ["vé☺", "😀"]}}
paths:
  /bücher/{{büch_id}}/straße/%C3%A9/%aé:
    parameters:
      - {{name: büch_id, in: path, required: true, schema: {{type: string, pattern: "^[é-ü☺]+$", example: "ü😀"}}}}
      - {{name: "X-Wért-☺", in: header, schema: {{type: string, enum: ["ä", "☺", "😀"]}}}}
      - {{name: "süche", in: query, schema: {{$ref: '#/components/schemas/%aé'}}}}
    get:
      operationId: büchHolen☺
      summary: "{LONG}"
      responses:
        "200":
          description: ök
          content:
            application/json:
              schema: {{$ref: '#/components/schemas/Büch'}}
          links:
            nächstes:
              operationId: büchÄndern
              parameters: {{büch_id: '$response.body#/ïd/~0é/~1☺', wört: '{{$response.body#/wört}}-é'}}
        "2XX": {{description: "ä"}}
  /bücher:
    post:
      operationId: büchÄndern
      requestBody:
        required: true
        content:
          application/json:
            schema: {{$ref: '#/components/schemas/B%C3%BCch'}}
          application/x-www-form-urlencoded:
            schema: {{type: object, properties: {{"fëld": {{type: string, minLength: 3, maxLength: 5, pattern: "^☺{{2,4}}é$"}}}}}}
      responses:
        "201":
          description: erstellt
          headers: {{Location: {{schema: {{type: string}}}}}}
          content:
            application/json:
              schema: {{$ref: '#/components/schemas/~0é~1☺'}}
components:
  schemas:
    "%aé": {{type: string, example: "%aé"}}
    "~é/☺": {{type: object, properties: {{"ïd": {{type: string, format: uuid}}}}}}
    Büch:
      type: object
      required: [ïd, wört]
      properties:
        ïd: {{type: string, example: "ü-1234-😀"}}
        wört: {{type: string, enum: ["é", "☺", "😀", "e\\u0301", "\\u200b"]}}
        zähl: {{type: integer, minimum: 1, example: 7}}
        "😀": {{type: array, items: {{type: string, pattern: "[\\\\u00e9-\\\\u00fc]{{3}}"}}, minItems: 2}}
        dätum: {{type: string, format: date-time}}
  securitySchemes:
    schlüssel: {{type: apiKey, in: header, name: "X-Schlüssel-☺"}}
security: [{{schlüssel: []}}]
"""
    yield "nonascii-swagger2.json", json.dumps({
        "swagger": "2.0", "info": {"title": "Straße 😀", "version": "1"},
        "host": "bücher.example:8443", "basePath": "/ä/é", "schemes": ["https"],
        "paths": {
            "/wört/{ïd}": {
                "get": {
                    "operationId": "wörtHolen",
                    "parameters": [
                        {"name": "ïd", "in": "path", "required": True, "type": "string"},
                        {"name": "kö", "in": "query", "type": "string", "enum": ["é", "☺"]},
                        {"name": "körper", "in": "body", "schema": {"$ref": "#/definitions/W%C3%B6rt"}},
                    ],
                    "responses": {"200": {"description": "ök", "schema": {"$ref": "#/definitions/%é"}}},
                }
            }
        },
        "definitions": {"Wört": {"type": "object", "properties": {"ä": {"type": "string"}}},
                        "%é": {"type": "string"}},
    }, ensure_ascii=False, indent=1)
    for i, w in enumerate(WORDS):
        yield f"nonascii-word-{i}.yaml", f"""openapi: 3.1.0
info: {{title: "{w}", version: "{w}"}}
servers: [{{url: "http://127.0.0.1:9/{w}"}}]
paths:
  /{w}/{{{w}}}/%{w}:
    get:
      operationId: "{w}"
      parameters:
        - {{name: "{w}", in: path, required: true, schema: {{type: string, example: "{w}{w}"}}}}
        - {{name: "{w}", in: query, schema: {{type: string, default: "%{w}"}}}}
      responses:
        "200":
          description: "{w}"
          content:
            application/json:
              schema: {{$ref: '#/components/schemas/%{w}'}}
components:
  schemas:
    "%{w}": {{type: object, properties: {{"{w}": {{type: string, maxLength: 1, example: "{w}{w}{w}"}}}}}}
"""


DICT = ["é", "ü", "☺", "😀", "%aé", "%é", "%C3%A9", "%C3", "&aaaaaaaaaaé;", "&é;", "&#233;",
        "&#x1F600;", "~0é", "~1☺", "e\u0301", "\u200b", "\u202e", "\ufffd", "\u00a0",
        "\\u00e9", "\\ud83d\\ude00", "\\ud800", "\\u0000"]
# Truncated UTF-8 sequences (invalid alone): the lead bytes of 2-, 3- and 4-byte characters.
DICT_BYTES = [b"\xc3", b"\xe2\x98", b"\xf0\x9f\x98"]


def dict_entry(raw):
    # libFuzzer dictionaries: "..." with \xNN escapes for every other byte.
    out = "".join(chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\x{b:02X}" for b in raw)
    return f'"{out}"'


def main():
    for d in ("har", "openapi"):
        os.makedirs(os.path.join(CORPUS, d), exist_ok=True)
    n = 0
    for name, doc in har_seeds():
        with open(os.path.join(CORPUS, "har", name + ".har"), "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
        n += 1
    for name, text in openapi_seeds():
        with open(os.path.join(CORPUS, "openapi", name), "w", encoding="utf-8") as f:
            f.write(text)
        n += 1
    with open(os.path.join(CORPUS, "nonascii.dict"), "w", encoding="ascii") as f:
        f.write("# multi-byte UTF-8 and escapes, for -dict=corpus/nonascii.dict\n")
        for raw in [w.encode() for w in DICT] + DICT_BYTES:
            f.write(dict_entry(raw) + "\n")
    print(f"wrote {n} seeds to {CORPUS}/{{har,openapi}} and {CORPUS}/nonascii.dict", file=sys.stderr)


if __name__ == "__main__":
    main()
