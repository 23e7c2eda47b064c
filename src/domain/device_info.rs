//! What an app's SDK says about its device (Authgear's `device_info` / `x_device_info`),
//! as a name people recognise.

use serde_json::Value;

/// Authgear's name of a device (`…/biometric/formatted_device_info`), from the
/// `device_info` its SDKs send: an iPhone's marketing name from its model identifier
/// (`ios.uname.machine`, e.g. `iPhone13,3` is "iPhone 12 Pro"; an unknown identifier is
/// shown as it is), an Android phone's manufacturer and model (`android.Build`). Empty
/// when the app sent nothing usable.
pub fn formatted_device_info(info: &Value) -> String {
    let s = |path: &[&str]| {
        path.iter().try_fold(info, |v, k| v.get(*k)).and_then(Value::as_str).unwrap_or("").trim().to_owned()
    };
    let machine = s(&["ios", "uname", "machine"]);
    if !machine.is_empty() {
        return iphone_name(&machine).map_or(machine, str::to_owned);
    }
    let model = s(&["android", "Build", "MODEL"]);
    let maker = s(&["android", "Build", "MANUFACTURER"]);
    if maker.is_empty() || model.to_lowercase().starts_with(&maker.to_lowercase()) {
        return model;
    }
    let mut maker = maker;
    if let Some(first) = maker.get(..1) {
        maker = first.to_uppercase() + &maker[1..];
    }
    if model.is_empty() { maker } else { format!("{maker} {model}") }
}

/// The marketing name of an iPhone model identifier, for the models still in use.
fn iphone_name(machine: &str) -> Option<&'static str> {
    Some(match machine {
        "iPhone12,1" => "iPhone 11",
        "iPhone12,3" => "iPhone 11 Pro",
        "iPhone12,5" => "iPhone 11 Pro Max",
        "iPhone12,8" => "iPhone SE (2nd generation)",
        "iPhone13,1" => "iPhone 12 mini",
        "iPhone13,2" => "iPhone 12",
        "iPhone13,3" => "iPhone 12 Pro",
        "iPhone13,4" => "iPhone 12 Pro Max",
        "iPhone14,4" => "iPhone 13 mini",
        "iPhone14,5" => "iPhone 13",
        "iPhone14,2" => "iPhone 13 Pro",
        "iPhone14,3" => "iPhone 13 Pro Max",
        "iPhone14,6" => "iPhone SE (3rd generation)",
        "iPhone14,7" => "iPhone 14",
        "iPhone14,8" => "iPhone 14 Plus",
        "iPhone15,2" => "iPhone 14 Pro",
        "iPhone15,3" => "iPhone 14 Pro Max",
        "iPhone15,4" => "iPhone 15",
        "iPhone15,5" => "iPhone 15 Plus",
        "iPhone16,1" => "iPhone 15 Pro",
        "iPhone16,2" => "iPhone 15 Pro Max",
        "iPhone17,3" => "iPhone 16",
        "iPhone17,4" => "iPhone 16 Plus",
        "iPhone17,1" => "iPhone 16 Pro",
        "iPhone17,2" => "iPhone 16 Pro Max",
        "iPhone17,5" => "iPhone 16e",
        _ => return None,
    })
}
