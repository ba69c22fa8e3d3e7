//! Unit tests of the classification of every vendor answer.

use super::*;

fn codes() -> CodeTable {
    CodeTable::shipped()
}

#[test]
fn vendor_success_example_verbatim() {
    let body = br#"{
  "code": "200",
  "message": "success",
  "sequence_id": "1679299854228726325924",
  "image": "\/9j\/4AAQSkZJRgABAQAAAQABAAD\/2wBDAAMCA",
  "score": 0.98958
}"#;
    let a = parse_result(body).unwrap();
    assert_eq!(a.code, 200);
    assert_eq!(a.message, "success");
    assert_eq!(a.sequence_id.as_deref(), Some("1679299854228726325924"));
    assert_eq!(a.score, Some(0.98958));
    // The page's image is cut short (37 characters is no whole base64 length): it cannot be
    // decoded, so its text is digested instead and nothing is lost.
    let face = a.face.clone().unwrap();
    assert_eq!(face.bytes, None);
    assert_eq!(face.len, "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCA".len());
    assert!(matches!(verdict_of_answer(a, &codes()), Verdict::Final(_)));
}

#[test]
fn vendor_failed_example_verbatim_is_retried_internal_error() {
    let body = br#"{
"code": 11350,
"sequence_id": "69b57131b6fb********61ccba118b60",
"message": "Internal error"
}"#;
    let a = parse_result(body).unwrap();
    assert_eq!(a.code, 11350);
    assert_eq!(a.score, None);
    assert_eq!(a.face, None);
    match verdict_of_response(200, None, body, &codes()) {
        Verdict::Retry(r) => {
            assert_eq!(r.fault, Fault::Internal);
            assert_eq!(r.answer.unwrap().code, 11350);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn vendor_license_example_verbatim() {
    let body = br#"{
"code": 200,
"message": "success",
"sequence_id": "17119500882*****29",
"license": "a41701e49******3",
"expiry_timestamp": 1715667188
}"#;
    let l = parse_license(body).unwrap();
    assert_eq!(l.code, 200);
    assert_eq!(l.license.as_deref(), Some("a41701e49******3"));
    assert_eq!(l.expiry_timestamp, Some(1715667188));
}

#[test]
fn images_decode_with_or_without_padding() {
    for text in ["/9j/4AAQ", "/9j/4A==", "/9j/4A", "/9j/\\n4A=="] {
        let body = format!("{{\"code\":200,\"image\":\"{text}\"}}");
        let face = parse_result(body.as_bytes()).unwrap().face.unwrap();
        let bytes = face.bytes.expect(text);
        assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "{text}");
        assert_eq!(face.len, bytes.len());
        assert_eq!(face.sha256, hex::encode(Sha256::digest(&bytes)));
    }
}

#[test]
fn tolerant_shapes() {
    let a =
        parse_result(br#"{"code":12207,"message":"x","score":null,"extra":{"a":[1]}}"#).unwrap();
    assert_eq!((a.code, a.score, a.sequence_id), (12207, None, None));
    let a = parse_result(br#"{"code":" 200 ","sequence_id":123,"score":"0.5"}"#).unwrap();
    assert_eq!(a.code, 200);
    assert_eq!(a.sequence_id.as_deref(), Some("123"));
    assert_eq!(a.score, Some(0.5));
    let a = parse_result(br#"{"code":200.0,"image":"not base64!!"}"#).unwrap();
    let face = a.face.unwrap();
    assert_eq!(face.bytes, None);
    assert_eq!(face.len, 12);
    // A sequence id sent as a bare number keeps every digit, above u64 too (the vendor's own
    // example): it is an identifier, not a quantity, and a float would make it another id.
    for digits in [
        "18446744073709551615",
        "13917799979142570601",
        "1679299854228726325924",
    ] {
        let body = format!(r#"{{"code":200,"sequence_id":{digits}}}"#);
        let a = parse_result(body.as_bytes()).unwrap();
        assert_eq!(a.sequence_id.as_deref(), Some(digits));
    }
    let a = parse_result(br#"{"code":200,"sequence_id":true}"#).unwrap();
    assert_eq!((a.sequence_id, a.dropped), (None, vec!["sequence_id"]));
    // Neither number nor string: the body is not the vendor's answer.
    assert!(parse_result(br#"{"code":true}"#).is_err());
    assert!(parse_result(br#"{"code":-12.5}"#).is_err());
}

#[test]
fn bodies_that_are_not_the_json_are_retried_with_status_and_snippet() {
    for (status, body) in [
        (200u16, &b"<html><body>Bad gateway</body></html>"[..]),
        (200, b"{\"code\": 200, \"mess"),
        (200, b""),
        (200, b"{\"message\":\"no code\"}"),
        (200, b"{\"code\":\"abc\"}"),
    ] {
        match verdict_of_response(status, None, body, &codes()) {
            Verdict::Retry(Retryable {
                fault:
                    Fault::Unparsable {
                        status: s, snippet, ..
                    },
                ..
            }) => {
                assert_eq!(s, status);
                assert_eq!(snippet, super::snippet(body));
            }
            other => panic!("{body:?}: {other:?}"),
        }
    }
}

#[test]
fn every_http_fault_is_classified() {
    let c = codes();
    let html = b"<html>502 Bad Gateway</html>";
    for status in [500u16, 502, 503, 504, 408] {
        match verdict_of_response(status, None, html, &c) {
            Verdict::Retry(r) => assert!(matches!(r.fault, Fault::Status { .. })),
            other => panic!("{status}: {other:?}"),
        }
    }
    match verdict_of_response(429, Some(Duration::from_secs(7)), b"", &c) {
        Verdict::Retry(r) => {
            assert_eq!(r.fault, Fault::RateLimited);
            assert_eq!(r.retry_after, Some(Duration::from_secs(7)));
        }
        other => panic!("{other:?}"),
    }
    for status in [401u16, 403] {
        assert_eq!(
            verdict_of_response(status, None, b"{\"code\":200}", &c),
            Verdict::Stop(VendorStop::CredentialsRefused { status })
        );
    }
    assert!(matches!(
        verdict_of_response(302, None, b"", &c),
        Verdict::Stop(VendorStop::Misconfigured { status: 302, .. })
    ));
    assert!(matches!(
        verdict_of_response(404, None, b"<html>not found</html>", &c),
        Verdict::Stop(VendorStop::Misconfigured { status: 404, .. })
    ));
    assert!(matches!(
        verdict_of_response(413, None, b"too large", &c),
        Verdict::GiveUp(Fault::Status { status: 413, .. })
    ));
    // A status other than 200 is a fault whatever code its body carries: never a result.
    for (status, body) in [
        (
            400u16,
            &br#"{"code":11301,"message":"liveness_id empty"}"#[..],
        ),
        (400, br#"{"code":400}"#),
        (
            410,
            br#"{"code":200,"message":"success","sequence_id":"1"}"#,
        ),
        (422, br#"{"code":"200"}"#),
    ] {
        assert!(
            matches!(
                verdict_of_response(status, None, body, &c),
                Verdict::GiveUp(Fault::Status { status: s, .. }) if s == status
            ),
            "{status}"
        );
    }
    for status in [404u16, 405] {
        assert!(matches!(
            verdict_of_response(status, None, br#"{"code":404}"#, &c),
            Verdict::Stop(VendorStop::Misconfigured { .. })
        ));
    }
    for status in [201u16, 202, 204, 206, 299, 100, 600, 999] {
        assert!(
            matches!(
                verdict_of_response(status, None, br#"{"code":200}"#, &c),
                Verdict::Retry(Retryable {
                    fault: Fault::Unparsable { .. },
                    ..
                })
            ),
            "{status}"
        );
    }
}

#[test]
fn a_license_shaped_answer_stops_the_run() {
    let c = codes();
    for body in [
        &br#"{"code":200,"message":"success","sequence_id":"1","license":"abc","expiry_timestamp":1715667188}"#[..],
        br#"{"code":"200","license":null,"expiry_timestamp":"1"}"#,
        br#"{"code":200,"license":"x"}"#,
    ] {
        assert_eq!(
            verdict_of_response(200, None, body, &c),
            Verdict::Stop(VendorStop::LicenseApi),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(
        VendorStop::LicenseApi
            .to_string()
            .contains("this URL answers like the license API")
    );
}

#[test]
fn odd_secondary_fields_are_dropped_not_the_answer() {
    let a = parse_result(
        br#"{"code":200,"message":12,"score":true,"sequence_id":{"a":1},"image":[1,2]}"#,
    )
    .unwrap();
    assert_eq!(a.code, 200);
    assert_eq!(
        (a.message.as_str(), a.score, a.sequence_id),
        ("", None, None)
    );
    assert_eq!(a.face, None);
    let mut dropped = a.dropped.clone();
    dropped.sort_unstable();
    assert_eq!(dropped, ["image", "message", "score", "sequence_id"]);
    let a = parse_result(br#"{"code":200,"score":"high","message":null}"#).unwrap();
    assert_eq!((a.score, a.dropped.as_slice()), (None, &["score"][..]));
    let a = parse_result(br#"{"code":200,"score":"0.25","sequence_id":7}"#).unwrap();
    assert_eq!((a.score, a.sequence_id.as_deref()), (Some(0.25), Some("7")));
    assert!(a.dropped.is_empty());
}

#[test]
fn every_code_category_is_classified() {
    let c = codes();
    let verdict =
        |code: i64| verdict_of_response(200, None, format!("{{\"code\":{code}}}").as_bytes(), &c);
    for code in [200, 12202, 12222, 12250, 11301, 11340, 12299, 777] {
        assert!(matches!(verdict(code), Verdict::Final(_)), "{code}");
    }
    for code in [301, 302, 303, 304, 305, 11304] {
        assert!(
            matches!(verdict(code), Verdict::Stop(VendorStop::Account { code: c, .. }) if c == code),
            "{code}"
        );
    }
    assert!(matches!(verdict(11350), Verdict::Retry(_)));
}

#[test]
fn retry_after_forms() {
    assert_eq!(parse_retry_after("5", 0), Some(Duration::from_secs(5)));
    assert_eq!(
        parse_retry_after(" 0.5 ", 0),
        Some(Duration::from_millis(500))
    );
    // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1_445_412_470),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1_445_412_490),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon", 0), None);
    // Absurd values never panic; they are capped at a day.
    for huge in [
        "1e30",
        "1e308",
        "inf",
        "18446744073709551615",
        "99999999999999999999",
    ] {
        assert_eq!(
            parse_retry_after(huge, 0),
            Some(Duration::from_secs(86_400)),
            "{huge}"
        );
    }
    assert_eq!(parse_retry_after("NaN", 0), None);
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", i64::MIN),
        Some(Duration::from_secs(86_400))
    );
    assert_eq!(parse_retry_after("-3", 0), None);
}

#[test]
fn outage_faults_exclude_rate_limits_and_internal_errors() {
    assert!(Fault::Timeout(Duration::from_secs(1)).is_outage());
    assert!(Fault::Connect("refused".into()).is_outage());
    assert!(!Fault::RateLimited.is_outage());
    assert!(!Fault::Internal.is_outage());
}
