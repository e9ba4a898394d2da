use super::*;

fn scan(line: &str) -> Result<Fields<'_>, ScanError> {
    let mut scratch = String::new();
    scan_object(line, &mut scratch)
}

fn num(v: Option<Val<'_>>) -> &str {
    match v {
        Some(Val::Num(n)) => n,
        other => panic!("expected a number, got {other:?}"),
    }
}

#[test]
fn canonical_reading() {
    let f = scan(r#"{"device":"llamas-env-03","sensor":"co2","ts":1600070400123,"value":412.5,"lat":43.4721,"lon":-3.8012}"#)
        .expect("valid");
    assert_eq!(
        f.device,
        Some(Val::Str(JStr {
            raw: "llamas-env-03",
            escaped: false
        }))
    );
    assert_eq!(
        f.sensor,
        Some(Val::Str(JStr {
            raw: "co2",
            escaped: false
        }))
    );
    assert_eq!(num(f.ts), "1600070400123");
    assert_eq!(num(f.value), "412.5");
    assert_eq!(num(f.lat), "43.4721");
    assert_eq!(num(f.lon), "-3.8012");
}

#[test]
fn whitespace_and_key_order_are_free() {
    let f = scan(" \t{ \"value\" : 1 , \"ts\":2,\"device\":\"d\"  } \r").expect("valid");
    assert_eq!(num(f.value), "1");
    assert_eq!(num(f.ts), "2");
    assert_eq!(f.sensor, None);
    assert_eq!(scan("{}").expect("empty object"), Fields::default());
}

#[test]
fn numbers_follow_the_json_grammar() {
    for ok in [
        "0",
        "-0",
        "-0.5",
        "1e3",
        "1E+3",
        "2.5e-3",
        "12345678901234567890123",
        "1.7976931348623157e309",
    ] {
        let line = format!(r#"{{"value":{ok}}}"#);
        assert_eq!(num(scan(&line).expect(ok).value), ok);
    }
    for bad in [
        "01",
        "+1",
        ".5",
        "1.",
        "1e",
        "1e+",
        "--1",
        "0x10",
        "NaN",
        "Infinity",
        "-Infinity",
        "1.5.2",
        "1_000",
    ] {
        let line = format!(r#"{{"value":{bad}}}"#);
        assert!(scan(&line).is_err(), "{bad} should be rejected");
    }
    // The scanner keeps the text; the caller parses it. Huge values become infinities.
    assert_eq!("1e400".parse::<f64>().ok(), Some(f64::INFINITY));
}

#[test]
fn literals() {
    let f = scan(r#"{"value":true,"ts":false,"device":null}"#).expect("valid");
    assert_eq!(f.value, Some(Val::Bool(true)));
    assert_eq!(f.ts, Some(Val::Bool(false)));
    assert_eq!(f.device, Some(Val::Null));
    assert!(scan(r#"{"value":tru}"#).is_err());
    assert!(scan(r#"{"value":nul"#).is_err());
    assert!(scan(r#"{"value":True}"#).is_err());
}

#[test]
fn escapes_are_validated_and_resolved() {
    let f = scan(r#"{"device":"a\"b\\c\/d\n\u00e9\ud83d\ude00"}"#).expect("valid");
    let Some(Val::Str(s)) = f.device else {
        panic!("string expected")
    };
    assert!(s.escaped);
    let mut out = String::new();
    unescape_into(s.raw, &mut out);
    assert_eq!(out, "a\"b\\c/d\né😀");
    for bad in [
        r#""\x""#,
        r#""\u12""#,
        r#""\u12g4""#,
        r#""\ud83d""#,
        r#""\ude00""#,
        r#""\ud83d\u0041""#,
    ] {
        let line = format!(r#"{{"device":{bad}}}"#);
        assert!(scan(&line).is_err(), "{bad} should be rejected");
    }
    assert!(
        scan("{\"device\":\"a\tb\"}").is_err(),
        "raw control characters are not allowed"
    );
    // Non-ASCII text passes through untouched.
    let f = scan(r#"{"device":"sensör-ñ"}"#).expect("valid");
    assert_eq!(
        f.device,
        Some(Val::Str(JStr {
            raw: "sensör-ñ",
            escaped: false
        }))
    );
}

#[test]
fn escaped_keys_are_recognised() {
    let f = scan(r#"{"dev\u0069ce":"x","t\u0073":5}"#).expect("valid");
    assert_eq!(
        f.device,
        Some(Val::Str(JStr {
            raw: "x",
            escaped: false
        }))
    );
    assert_eq!(num(f.ts), "5");
}

#[test]
fn nested_values_of_other_keys_are_skipped() {
    let line = r#"{"meta":{"a":[1,{"b":"}]"},[],{}],"c":{"d":null}},"device":"d","tags":["x","y"],"value":3}"#;
    let f = scan(line).expect("valid");
    assert_eq!(num(f.value), "3");
    assert_eq!(
        f.device,
        Some(Val::Str(JStr {
            raw: "d",
            escaped: false
        }))
    );
    // A known key holding a container is reported as such (the caller rejects its type).
    let f = scan(r#"{"value":[1,2],"ts":{"ms":1}}"#).expect("valid");
    assert_eq!(f.value, Some(Val::Array));
    assert_eq!(f.ts, Some(Val::Object));
    for bad in [
        r#"{"m":[1,}"#,
        r#"{"m":{"a"}}"#,
        r#"{"m":[1 2]}"#,
        r#"{"m":{1:2}}"#,
        r#"{"m":[}"#,
        r#"{"m":{"a":1]}"#,
    ] {
        assert!(scan(bad).is_err(), "{bad} should be rejected");
    }
    let deep = format!(
        r#"{{"m":{}{}}}"#,
        "[".repeat(MAX_DEPTH + 1),
        "]".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(
        scan(&deep).map(|_| ()).map_err(|e| e.what),
        Err("nesting too deep")
    );
    let ok = format!(
        r#"{{"m":{}{}}}"#,
        "[".repeat(MAX_DEPTH - 1),
        "]".repeat(MAX_DEPTH - 1)
    );
    assert!(scan(&ok).is_ok());
}

#[test]
fn duplicate_known_keys_are_rejected_ignored_ones_are_not() {
    let e = scan(r#"{"value":1,"value":2}"#).expect_err("duplicate");
    assert_eq!(e.what, "duplicate key");
    assert_eq!(e.at, 19);
    assert!(scan(r#"{"unit":"C","unit":"F","value":1}"#).is_ok());
    assert!(
        scan(r#"{"ts":1,"t\u0073":2}"#).is_err(),
        "an escaped duplicate is still a duplicate"
    );
}

#[test]
fn structural_errors() {
    let cases = [
        ("", "empty line"),
        ("[1,2]", "not a JSON object"),
        ("42", "not a JSON object"),
        (r#""device""#, "not a JSON object"),
        (r#"{"value":1} x"#, "trailing characters after the object"),
        (
            r#"{"value":1}{"value":2}"#,
            "trailing characters after the object",
        ),
        (r#"{"value":1"#, "unexpected end of line (truncated record)"),
        (r#"{"value":"#, "unexpected end of line (truncated record)"),
        (r#"{"dev"#, "unexpected end of line (truncated record)"),
        (r#"{"value":1,}"#, "expected a string key"),
        (r#"{value:1}"#, "expected a string key"),
        (r#"{"value" 1}"#, "expected ':' after key"),
        (r#"{"value":1 "ts":2}"#, "expected ',' or '}'"),
        (r#"{"value":'1'}"#, "invalid value"),
    ];
    for (line, what) in cases {
        assert_eq!(
            scan(line).map(|_| ()).map_err(|e| e.what),
            Err(what),
            "{line}"
        );
    }
}
