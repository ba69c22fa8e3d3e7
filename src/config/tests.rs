//! Unit tests of the settings layers, the secret type and the endpoint checks.

use super::*;

#[test]
fn secret_debug_hides_the_value() {
    let s = Secret::new("hunter2-partner-key");
    let shown = format!("{s:?} {:?}", Some(s.clone()));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert_eq!(s.expose(), "hunter2-partner-key");
}

#[test]
fn http_only_to_loopback() {
    assert!(endpoint("u", "https://sg-credit.apitd.net/x").is_ok());
    assert!(endpoint("u", "http://127.0.0.1:8080/x").is_ok());
    assert!(endpoint("u", "http://127.9.9.9/x").is_ok());
    assert!(endpoint("u", "http://[::1]:9/x").is_ok());
    assert!(endpoint("u", "http://localhost/x").is_ok());
    let err = endpoint("u", "http://sg-credit.apitd.net/x").unwrap_err();
    assert!(matches!(err, ConfigError::InsecureUrl { .. }), "{err}");
    assert!(endpoint("u", "http://10.0.0.1/x").is_err());
    assert!(endpoint("u", "ftp://example.com/x").is_err());
    assert!(endpoint("u", "not a url").is_err());
    assert!(matches!(
        endpoint("u", "https://h/x?partner_key=abc").unwrap_err(),
        ConfigError::UrlHasQuery { .. }
    ));
}

#[test]
fn flags_win_over_env_over_file() {
    let file = FileConfig {
        partner_code: Some("from-file".into()),
        result_url: Some("https://file.example/r".into()),
        db: Some("file.db".into()),
        ..FileConfig::default()
    };
    let mut layers = Layers::new(FlagValues::default(), file);
    layers.env = |name| match name {
        "TD_PARTNER_CODE" => Some("from-env".into()),
        "TD_PARTNER_KEY" => Some("k".into()),
        _ => None,
    };
    let v = layers.vendor(true, false).unwrap();
    assert_eq!(v.partner_code, "from-env");
    assert_eq!(v.result_url.unwrap().as_str(), "https://file.example/r");
    assert_eq!(layers.db(), PathBuf::from("file.db"));
    layers.flags.partner_code = Some("from-flag".into());
    assert_eq!(
        layers.vendor(true, false).unwrap().partner_code,
        "from-flag"
    );
}

#[test]
fn rate_is_a_number_or_auto_from_flag_env_or_file() {
    assert_eq!("auto".parse(), Ok(RateValue::Auto));
    assert_eq!(" AUTO ".parse(), Ok(RateValue::Auto));
    assert_eq!("70".parse(), Ok(RateValue::PerSec(70)));
    assert_eq!("70/s".parse(), Ok(RateValue::PerSec(70)));
    assert_eq!("0".parse(), Ok(RateValue::PerSec(0)));
    for bad in ["fast", "-1", "1.5", ""] {
        let err = bad.parse::<RateValue>().unwrap_err().to_string();
        assert!(err.contains("auto") && err.contains("per second"), "{err}");
    }
    let file: FileConfig = toml::from_str("rate = \"auto\"").unwrap();
    let mut layers = Layers::new(FlagValues::default(), file);
    layers.env = |_| None;
    let default = RateValue::PerSec(10);
    assert_eq!(layers.rate(None, default).unwrap(), RateValue::Auto);
    assert_eq!(
        layers.rate(Some(RateValue::PerSec(5)), default).unwrap(),
        RateValue::PerSec(5)
    );
    layers.env = |name| (name == "LIVEAUDIT_RATE").then(|| "40".to_string());
    assert_eq!(layers.rate(None, default).unwrap(), RateValue::PerSec(40));
    let file: FileConfig = toml::from_str("rate = 25").unwrap();
    let mut layers = Layers::new(FlagValues::default(), file);
    layers.env = |_| None;
    assert_eq!(layers.rate(None, default).unwrap(), RateValue::PerSec(25));
    let file: FileConfig = toml::from_str("rate = \"quick\"").unwrap();
    let mut layers = Layers::new(FlagValues::default(), file);
    layers.env = |_| None;
    let err = layers.rate(None, default).unwrap_err().to_string();
    assert!(
        err.contains("rate in the config file") && err.contains("quick"),
        "{err}"
    );
}

#[test]
fn missing_settings_are_named() {
    let mut layers = Layers::new(FlagValues::default(), FileConfig::default());
    layers.env = |_| None;
    let err = layers.vendor(true, false).unwrap_err().to_string();
    assert!(
        err.contains("partner code") && err.contains("TD_PARTNER_CODE"),
        "{err}"
    );
    layers.env = |name| (name == "TD_PARTNER_CODE").then(|| "c".to_string());
    let err = layers.vendor(true, false).unwrap_err().to_string();
    assert!(
        err.contains("partner key") && err.contains("--partner-key-file"),
        "{err}"
    );
    layers.env = |name| match name {
        "TD_PARTNER_CODE" | "TD_PARTNER_KEY" => Some("x".into()),
        _ => None,
    };
    let err = layers.vendor(true, false).unwrap_err().to_string();
    assert!(err.contains("TD_RESULT_URL"), "{err}");
}
