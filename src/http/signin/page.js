// The shared-device sign-in page: scan → PIN → (new PIN) → signed in, then ready for the next person.
// A worker may walk away at any step: after IDLE_SECONDS without a touch or key press the page forgets
// everything (badge code, PIN fields, the change token) and starts again for the next person.
const $ = (id) => document.getElementById(id);
const steps = ["scan-step", "pin-step", "change-step", "done-step"];
const IDLE_SECONDS = 60;
const DONE_SECONDS = 8;
let scanned = "";
let changeToken = "";
let current = "scan-step";
let lastActivity = Date.now();
let limitSeconds = IDLE_SECONDS;

const show = (id, stepText) => {
  current = id;
  for (const s of steps) $(s).hidden = s !== id;
  $("steps").textContent = stepText;
  limitSeconds = id === "done-step" ? DONE_SECONDS : IDLE_SECONDS;
  touch();
  const first = $(id).querySelector("input, button");
  if (first) first.focus();
};

const say = (text, kind = "error") => {
  const live = $("live");
  live.hidden = !text;
  live.className = `msg ${kind}`;
  live.textContent = text;
};

// --- Idle reset -----------------------------------------------------------------------------------

/** Whether the page holds anything of the last person: a step past scanning, typed text, a message. */
const inUse = () => current !== "scan-step" || $("qr").value !== "" || !$("live").hidden || cameraOn();

function touch() {
  lastActivity = Date.now();
  tick();
}

function tick() {
  const idle = $("idle");
  if (!inUse()) {
    idle.hidden = true;
    return;
  }
  const left = Math.max(0, Math.ceil(limitSeconds - (Date.now() - lastActivity) / 1000));
  if (left === 0) {
    restart();
    return;
  }
  // The warning shows for the last half minute (the whole time on the short "Signed in" screen).
  idle.hidden = current !== "done-step" && left > 30;
  idle.textContent =
    current === "done-step"
      ? `This screen clears for the next person in ${left} s.`
      : `No activity: this screen clears for the next person in ${left} s. Touch the screen or type to keep going.`;
}

for (const event of ["pointerdown", "keydown", "input"]) {
  document.addEventListener(event, () => touch(), { capture: true, passive: true });
}
setInterval(tick, 1000);

// --- Badge codes ----------------------------------------------------------------------------------

const BADGE = /^pindesk:qr:1:[0-9a-fA-F-]{36}:[A-Za-z0-9_-]{43}:[^:]+$/;

/** The badge content as text: what the scanner typed, or its base64 (rawContent). Null if not a badge. */
const badgeText = (code) => {
  const text = code.trim();
  if (BADGE.test(text)) return text;
  try {
    const decoded = atob(text).trim();
    return BADGE.test(decoded) ? decoded : null;
  } catch {
    return null;
  }
};

const nameFrom = (text) => {
  try {
    return decodeURIComponent(text.split(":")[5] ?? "");
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
      return error.validFrom
        ? `This badge works from ${new Date(error.validFrom).toLocaleString([], { dateStyle: "medium", timeStyle: "short" })}. Until then, ask your help desk for a temporary QR code.`
        : "This badge code is not valid. Scan it again; if it still fails, the badge was replaced — ask your help desk.";
    case "temporaryPinExpired":
      return "Your temporary PIN has expired. Ask your help desk for a new one.";
    case "pinChangeTokenInvalid":
      return "That took too long, so the new-PIN step has closed. Scan your badge and sign in again.";
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

function restart() {
  stopCamera();
  scanned = "";
  changeToken = "";
  for (const id of ["qr", "pin", "new-pin", "confirm-pin"]) $(id).value = "";
  $("who").textContent = "";
  $("done-text").textContent = "";
  say("");
  show("scan-step", "Step 1 of 2: scan your badge");
}

const acceptBadge = (value) => {
  const text = badgeText(value);
  if (!text) {
    $("qr").value = "";
    say("That is not a badge code. Scan your badge again, or paste the whole code your help desk gave you.");
    $("qr").focus();
    return;
  }
  scanned = text;
  const name = nameFrom(text);
  $("who").textContent = name ? `Badge of ${name}` : "";
  say("");
  show("pin-step", "Step 2 of 2: enter your PIN");
};

$("scan-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("qr").value.trim();
  if (!value) return say("Scan your badge or paste its code first.");
  acceptBadge(value);
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
    if (["qrCodeExpired", "qrCodeInvalid"].includes(error.code)) {
      scanned = "";
      $("qr").value = "";
      show("scan-step", "Step 1 of 2: scan your badge");
    } else $("pin").focus();
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
    changeToken = "";
    say("PIN changed. Sign in with your new PIN.", "ok");
    $("new-pin").value = "";
    $("confirm-pin").value = "";
    show("pin-step", "Step 2 of 2: enter your new PIN");
  } catch (error) {
    say(explain(error));
    if (error.code === "pinChangeTokenInvalid") {
      restart();
      say(explain(error));
      return;
    }
    $("new-pin").focus();
  }
});

const finish = (text) => {
  say("");
  $("done-text").textContent = text;
  show("done-step", "Done");
};
$("next-person").addEventListener("click", restart);

// --- Camera ---------------------------------------------------------------------------------------
// The browser's BarcodeDetector where it has one; elsewhere (Chromium on Linux and Windows, Firefox,
// Safari) the jsQR decoder, served by PinDesk itself, reads the camera frames.

let stream = null;
let frame = 0;

function cameraOn() {
  return stream !== null;
}

function stopCamera() {
  cancelAnimationFrame(frame);
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  const video = $("camera");
  video.srcObject = null;
  video.hidden = true;
  $("camera-stop").hidden = true;
  $("camera-button").hidden = !navigator.mediaDevices?.getUserMedia;
}

let jsQrLoading;
const loadJsQr = () => {
  jsQrLoading ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/signin/qr/jsqr.js";
    script.onload = () => resolve(window.jsQR);
    script.onerror = () => reject(new Error("decoder not loaded"));
    document.head.append(script);
  });
  return jsQrLoading;
};

/** A function that reads a QR code from the video, or resolves null when there is none in view. */
const makeReader = async (video) => {
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        return async () => (await detector.detect(video).catch(() => []))[0]?.rawValue ?? null;
      }
    } catch {
      // Fall through to jsQR.
    }
  }
  const jsQR = await loadJsQr();
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async () => {
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) return null;
    canvas.width = width;
    canvas.height = height;
    context.drawImage(video, 0, 0, width, height);
    const image = context.getImageData(0, 0, width, height);
    return jsQR(image.data, width, height, { inversionAttempts: "dontInvert" })?.data ?? null;
  };
};

$("camera-button").addEventListener("click", async () => {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    const video = $("camera");
    video.srcObject = stream;
    video.hidden = false;
    $("camera-button").hidden = true;
    $("camera-stop").hidden = false;
    say("Hold your badge in front of the camera.", "ok");
    await video.play();
    const read = await makeReader(video);
    const scan = async () => {
      if (!cameraOn()) return;
      const value = await read();
      if (value && badgeText(value)) {
        stopCamera();
        $("qr").value = value;
        acceptBadge(value);
        return;
      }
      frame = requestAnimationFrame(scan);
    };
    scan();
  } catch {
    stopCamera();
    say("The camera is not available here. Use the scanner or paste the code.");
  }
});
$("camera-stop").addEventListener("click", () => {
  stopCamera();
  say("");
  $("qr").focus();
});

fetch("/api/v1/signin/qr/policy")
  .then((r) => r.json())
  .then((p) => {
    $("change-rules").textContent = p.description;
  })
  .catch(() => undefined);
restart();
