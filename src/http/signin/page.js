// The shared-device sign-in page: scan → PIN → (new PIN) → signed in, then ready for the next person.
const $ = (id) => document.getElementById(id);
const steps = ["scan-step", "pin-step", "change-step", "done-step"];
let scanned = "";
let changeToken = "";
let resetTimer;

const show = (id, stepText) => {
  for (const s of steps) $(s).hidden = s !== id;
  $("steps").textContent = stepText;
  const first = $(id).querySelector("input, button");
  if (first) first.focus();
};

const say = (text, kind = "error") => {
  const live = $("live");
  live.hidden = !text;
  live.className = `msg ${kind}`;
  live.textContent = text;
};

const nameFrom = (code) => {
  let text = code.trim();
  if (!text.startsWith("pindesk:qr:")) {
    try {
      text = atob(text);
    } catch {
      return "";
    }
  }
  const parts = text.split(":");
  try {
    return parts.length === 6 ? decodeURIComponent(parts[5]) : "";
  } catch {
    return "";
  }
};

const timeOf = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

const explain = (error) => {
  switch (error.code) {
    case "invalidPin":
      return error.attemptsRemaining === 1
        ? "Wrong PIN. 1 try left before your PIN is locked."
        : `Wrong PIN. ${error.attemptsRemaining} tries left.`;
    case "pinLocked":
      return error.lockedUntil
        ? `Your PIN is locked until ${timeOf(error.lockedUntil)} after too many wrong tries. Wait, or ask your help desk to unblock it.`
        : "Your PIN is locked after too many wrong tries. Ask your help desk to unblock it.";
    case "qrCodeExpired":
      return "This badge's code has expired. Ask your help desk for a temporary QR code to sign in today, and for a new badge.";
    case "qrCodeInvalid":
      return "This badge code is not valid. Scan it again; if it still fails, the badge was replaced — ask your help desk.";
    case "temporaryPinExpired":
      return "Your temporary PIN has expired. Ask your help desk for a new one.";
    case "tooManyRequests":
      return "Too many attempts from this device. Wait a minute and try again.";
    default:
      return `${error.message} ${error.mitigation ?? ""}`.trim();
  }
};

const post = async (url, body) => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok)
    throw data.error ?? { code: "internalError", message: "Something went wrong. Try again." };
  return data;
};

const restart = () => {
  clearTimeout(resetTimer);
  scanned = "";
  changeToken = "";
  for (const id of ["qr", "pin", "new-pin", "confirm-pin"]) $(id).value = "";
  say("");
  show("scan-step", "Step 1 of 2: scan your badge");
};

$("scan-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("qr").value.trim();
  if (!value) return say("Scan your badge or paste its code first.");
  scanned = value;
  const name = nameFrom(value);
  $("who").textContent = name ? `Badge of ${name}` : "";
  say("");
  show("pin-step", "Step 2 of 2: enter your PIN");
});

$("not-me").addEventListener("click", restart);

$("pin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const pin = $("pin").value;
  if (!pin) return say("Type your PIN.");
  try {
    const result = await post("/api/v1/signin/qr", { qrCode: scanned, pin });
    $("pin").value = "";
    if (result.result === "pinChangeRequired") {
      changeToken = result.changeToken;
      $("change-reason").textContent = result.message;
      say("");
      show("change-step", "Almost done: set a new PIN");
      return;
    }
    finish(`Welcome, ${result.user.displayName}. You are signed in.`);
  } catch (error) {
    $("pin").value = "";
    say(explain(error));
    if (["qrCodeExpired", "qrCodeInvalid"].includes(error.code))
      show("scan-step", "Step 1 of 2: scan your badge");
    else $("pin").focus();
  }
});

$("change-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const newPin = $("new-pin").value;
  const confirmPin = $("confirm-pin").value;
  if (newPin !== confirmPin) {
    say("The two PINs are different. Type the same new PIN twice.");
    $("confirm-pin").value = "";
    $("confirm-pin").focus();
    return;
  }
  try {
    await post("/api/v1/signin/qr/change-pin", { changeToken, newPin, confirmPin });
    say("PIN changed. Sign in with your new PIN.", "ok");
    $("new-pin").value = "";
    $("confirm-pin").value = "";
    show("pin-step", "Step 2 of 2: enter your new PIN");
  } catch (error) {
    say(explain(error));
    $("new-pin").focus();
  }
});

const finish = (text) => {
  say("");
  $("done-text").textContent = text;
  show("done-step", "Done");
  resetTimer = setTimeout(restart, 8000);
};
$("next-person").addEventListener("click", restart);

// Camera scanning where the browser has a barcode detector.
if ("BarcodeDetector" in window && navigator.mediaDevices?.getUserMedia) {
  const button = $("camera-button");
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      const video = $("camera");
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      const tick = async () => {
        const codes = await detector.detect(video).catch(() => []);
        if (codes[0]) {
          for (const track of stream.getTracks()) track.stop();
          video.hidden = true;
          $("qr").value = codes[0].rawValue;
          $("scan-form").requestSubmit();
        } else if (!video.hidden) requestAnimationFrame(tick);
      };
      tick();
    } catch {
      say("The camera is not available here. Use the scanner or paste the code.");
    }
  });
}

fetch("/api/v1/signin/qr/policy")
  .then((r) => r.json())
  .then((p) => {
    $("change-rules").textContent = p.description;
  })
  .catch(() => undefined);
restart();
