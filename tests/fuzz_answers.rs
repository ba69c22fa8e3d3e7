//! Property tests: whatever bytes a vendor (or a proxy) sends, classifying them never panics,
//! only an HTTP 200 with the result API's shape becomes a final answer, and nothing printed
//! from them carries a control byte or the key.

use liveaudit::codes::CodeTable;
use liveaudit::td::answer::{Verdict, parse_retry_after, snippet, verdict_of_response};
use liveaudit::text;
use proptest::prelude::*;

/// Whether `body` has the result API's shape: a JSON object with a whole-number `code` (number
/// or numeric string) and none of the license API's fields.
fn is_result_shaped(body: &[u8]) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object()?;
    if obj.contains_key("license") && !obj["license"].is_null()
        || obj.contains_key("expiry_timestamp") && !obj["expiry_timestamp"].is_null()
    {
        return None;
    }
    match obj.get("code")? {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn no_control(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// JSON values of any type, for the answer's fields.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
        "[0-9]{1,5}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop::collection::vec(inner, 0..3).prop_map(serde_json::Value::from)
    })
}

/// Objects built from the real field names (and a few others) with values of any type.
fn answer_like() -> impl Strategy<Value = Vec<u8>> {
    let names = prop::sample::select(vec![
        "code",
        "message",
        "sequence_id",
        "image",
        "score",
        "license",
        "expiry_timestamp",
        "extra",
    ]);
    prop::collection::vec((names, any_json()), 0..7).prop_map(|fields| {
        let map: serde_json::Map<String, serde_json::Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        serde_json::to_vec(&map).unwrap()
    })
}

static CODES: std::sync::LazyLock<CodeTable> = std::sync::LazyLock::new(CodeTable::shipped);

fn check(status: u16, body: &[u8]) -> Result<(), TestCaseError> {
    let verdict = verdict_of_response(status, None, body, &CODES);
    if let Verdict::Final(answer) = &verdict {
        prop_assert_eq!(status, 200, "a final answer from HTTP {}", status);
        let code = is_result_shaped(body);
        prop_assert_eq!(
            code,
            Some(answer.code),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
    let shown = match &verdict {
        Verdict::Final(a) => format!("{} {}", a.message, a.sequence_id.as_deref().unwrap_or("")),
        Verdict::Retry(r) => r.fault.to_string(),
        Verdict::GiveUp(f) => f.to_string(),
        Verdict::Stop(s) => s.to_string(),
    };
    // What reaches a terminal or a text log goes through the escaper.
    prop_assert!(no_control(&text::clean(&shown)));
    prop_assert!(no_control(&snippet(body)));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic_and_are_final_only_when_valid(
        status in prop_oneof![Just(200u16), 100u16..1000],
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        check(status, &body)?;
    }

    #[test]
    fn answer_shaped_json_is_final_only_with_the_result_shape(
        status in prop_oneof![4 => Just(200u16), 1 => 100u16..1000],
        body in answer_like(),
    ) {
        check(status, &body)?;
    }

    #[test]
    fn any_retry_after_parses_without_panicking(value in ".{0,40}", now in any::<i64>()) {
        if let Some(d) = parse_retry_after(&value, now) {
            prop_assert!(d.as_secs() <= 86_400);
        }
    }

    #[test]
    fn escaped_text_has_no_control_character(s in any::<String>()) {
        prop_assert!(no_control(&text::escape(&s)));
        let line = text::escape_line(&s);
        prop_assert!(!line.chars().any(|c| c != '\n' && c.is_control()));
    }

    #[test]
    fn a_registered_key_never_survives_redaction(
        key in "[ -~]{8,24}",
        before in ".{0,10}",
        after in ".{0,10}",
        upper in any::<bool>(),
    ) {
        let encoded: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
        for form in [key.clone(), encoded] {
            let form = if upper { form.to_ascii_uppercase() } else { form };
            let out = text::redact_key(&format!("{before}{form}{after}"), &key).into_owned();
            prop_assert!(
                !out.to_ascii_lowercase().contains(&form.to_ascii_lowercase()),
                "{:?} -> {:?}", form, out
            );
        }
    }
}
