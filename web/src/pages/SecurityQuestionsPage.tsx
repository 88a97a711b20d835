/** Emergency Access answers (seed 001, Method 3): register N answers to questions the admin chose. */
import { type FormEvent, useEffect, useId, useState } from "react";
import { type ApiError, api, type SecurityQuestions, toApiError } from "../api.ts";
import { ErrorNotice } from "../components/Notices.tsx";
import { useLoad } from "../lib/use-load.ts";

const QuestionsForm = ({ data, onSaved }: { data: SecurityQuestions; onSaved(message: string): void }) => {
  const baseId = useId();
  const initial = () => {
    const chosen = data.registered.filter((id) => data.questions.some((q) => q.id === id));
    for (const q of data.questions)
      if (chosen.length < data.registerCount && !chosen.includes(q.id)) chosen.push(q.id);
    return chosen.slice(0, data.registerCount);
  };
  const [chosen, setChosen] = useState<string[]>(initial);
  const [answers, setAnswers] = useState<string[]>(() => chosen.map(() => ""));
  // Stable keys per answer slot, so changing a slot's question keeps the focus where it is.
  const [slots] = useState(() => chosen.map((_, i) => `${baseId}-slot${i}`));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [problem, setProblem] = useState<string>();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (new Set(chosen).size !== chosen.length) {
      setProblem("Choose a different question for each answer.");
      return;
    }
    if (answers.some((a) => a.trim().length < 2)) {
      setProblem("Answer every question (at least 2 characters).");
      return;
    }
    setProblem(undefined);
    setBusy(true);
    setError(undefined);
    try {
      const result = await api.me.saveSecurityAnswers(
        Object.fromEntries(chosen.map((id, i) => [id, answers[i] ?? ""])),
      );
      onSaved(result.message);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="stack" onSubmit={submit} noValidate>
      <ErrorNotice error={error} />
      {problem && (
        <p className="field-problem" role="alert">
          {problem}
        </p>
      )}
      {slots.map((slot, i) => (
        <fieldset key={slot} className="question">
          <legend>Question {i + 1}</legend>
          <label htmlFor={`${baseId}-q${i}`}>Question</label>
          <select
            id={`${baseId}-q${i}`}
            value={chosen[i]}
            onChange={(e) => setChosen((c) => c.map((x, j) => (j === i ? e.target.value : x)))}
          >
            {data.questions.map((q) => (
              <option key={q.id} value={q.id} disabled={q.id !== chosen[i] && chosen.includes(q.id)}>
                {q.text}
              </option>
            ))}
          </select>
          <label htmlFor={`${baseId}-a${i}`}>Your answer</label>
          <input
            id={`${baseId}-a${i}`}
            type="text"
            autoComplete="off"
            maxLength={200}
            value={answers[i] ?? ""}
            onChange={(e) => setAnswers((a) => a.map((x, j) => (j === i ? e.target.value : x)))}
          />
        </fieldset>
      ))}
      <p className="hint">
        Capitals and extra spaces do not matter. Pick answers you will remember, that others cannot look up.
      </p>
      <div className="actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Saving…" : "Save answers"}
        </button>
      </div>
    </form>
  );
};

export const SecurityQuestionsPage = () => {
  const { data, error, reload } = useLoad(() => api.me.securityQuestions());
  const [saved, setSaved] = useState<string>();
  const [editing, setEditing] = useState(false);
  const registered = data ? data.registered.length >= data.registerCount : false;
  useEffect(() => {
    if (data && !registered) setEditing(true);
  }, [data, registered]);

  return (
    <div className="page page-narrow">
      <h1>Security questions</h1>
      <ErrorNotice error={error} />
      {data && !data.enabled && (
        <div className="notice notice-info" role="status">
          <p className="notice-title">Emergency Access is not turned on by your organisation.</p>
          <p>
            If you forget your PIN, use “Forgot your PIN?” on the sign-in page, or contact your help desk.
          </p>
        </div>
      )}
      {data?.enabled && (
        <>
          <p className="lead">
            If you forget your PIN and cannot get a code, Emergency Access lets you set a new PIN by answering
            these questions. You answer {data.registerCount}.
          </p>
          {saved && (
            <div className="notice notice-success" role="status" data-testid="answers-saved">
              <p className="notice-title">{saved}</p>
            </div>
          )}
          {registered && !editing && (
            <>
              <p>Your answers are saved for {data.registered.length} questions.</p>
              <div className="actions">
                <button type="button" className="btn" onClick={() => setEditing(true)}>
                  Change my answers
                </button>
              </div>
            </>
          )}
          {editing && (
            <QuestionsForm
              data={data}
              onSaved={(message) => {
                setSaved(message);
                setEditing(false);
                void reload();
              }}
            />
          )}
        </>
      )}
    </div>
  );
};
