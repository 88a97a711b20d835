/** `pindesk user import`: bad rows reported by the line they start on, every good row kept. */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dialects, freshDatabase } from "../../test/helpers/instance.ts";
import { type CliSandbox, createCliSandbox } from "./testing.ts";

describe.each(dialects)("pindesk user import on %s", (dialect) => {
  let box: CliSandbox;
  afterEach(async () => {
    await box?.close();
  });

  const listUpns = async () => {
    const res = await box.cli(["user", "list", "--limit", "10000", "--json"]);
    expect(res.code).toBe(0);
    return (JSON.parse(res.stdout) as { userPrincipalName: string }[]).map((u) => u.userPrincipalName);
  };

  it("regression: blank lines, a quoted multi-line value and an extra column neither shift line numbers nor reject the file", async () => {
    box = await createCliSandbox(await freshDatabase(dialect));
    const good = Array.from(
      { length: 2000 },
      (_, i) => `user${String(i).padStart(4, "0")}@contoso.com,User ${i},,,`,
    );
    const lines = [
      "userPrincipalName,displayName,mail,mobilePhone,roles", // 1
      "", // 2
      "ana@contoso.com,Ana Lopez,ana@fabrikam.com,+44 7700 900123,", // 3
      "not-a-upn,Bad Row,,,", // 4
      '"cy@contoso.com","Cy', // 5 (a display name over two lines)
      'Second line",,,', // 6
      "ex@contoso.com,Extra,,,,surplus", // 7
      "", // 8
      "", // 9
      "ana@contoso.com,Ana Again,,,", // 10
      'ro@contoso.com,Ro,,,"Helpdesk Administrator;Nonsense Role"', // 11
      '"two lines.example","Not', // 12 (a bad row that itself spans two lines)
      'A UPN",,,', // 13
      ...good, // 14-2013
      "zed@contoso.com,Zed,,,Helpdesk Administrator", // 2014
    ];
    const file = path.join(box.dataDir, "users.csv");
    await writeFile(file, `${lines.join("\n")}\n`);
    // The first command creates the key file and says so; this test wants only the import's output.
    expect((await box.cli(["migrate"])).code).toBe(0);
    const res = await box.cli(["user", "import", file]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("Imported 2003 users; 5 rows rejected.\n");
    expect(res.stderr).toBe(
      [
        "line 4: userPrincipalName must look like name@domain.example (letters, digits and . _ - + before the @)",
        'line 7: has 6 values but the header has 5 columns (userPrincipalName,displayName,mail,mobilePhone,roles); a comma inside a value needs "quotes"',
        "line 10: ana@contoso.com already exists (in PinDesk or earlier in this file)",
        'line 11: roles "Nonsense Role" is not a known directory role',
        "line 12: userPrincipalName must look like name@domain.example (letters, digits and . _ - + before the @)",
        "next step: fix the rejected rows listed above (the other rows are already imported) and import just those rows, in a file with the same header line.",
        "",
      ].join("\n"),
    );
    // No progress bar when stderr is not a terminal.
    expect(res.stderr).not.toContain("Importing [");
    const upns = await listUpns();
    expect(upns.length).toBe(2003);
    for (const upn of [
      "ana@contoso.com",
      "cy@contoso.com",
      "zed@contoso.com",
      "user0000@contoso.com",
      "user1999@contoso.com",
    ])
      expect(upns).toContain(upn);
    expect(upns).not.toContain("ex@contoso.com");
    expect(upns).not.toContain("ro@contoso.com");
    const cy = await box.cli(["user", "show", "cy@contoso.com"]);
    expect(JSON.parse(cy.stdout.slice(0, cy.stdout.indexOf("\n}") + 2))).toMatchObject({
      displayName: "Cy\nSecond line",
    });
    const zed = await box.cli(["user", "show", "zed@contoso.com"]);
    expect(zed.stdout).toContain('"Helpdesk Administrator"');
  });

  it("a NUL in a value rejects that row only, on either database", async () => {
    box = await createCliSandbox(await freshDatabase(dialect));
    const file = path.join(box.dataDir, "nul.csv");
    await writeFile(
      file,
      "userPrincipalName,displayName,mail,mobilePhone,roles\nnul@contoso.com,N\u0000L,,,\nok@contoso.com,Ok,,,\n",
    );
    expect((await box.cli(["migrate"])).code).toBe(0);
    const res = await box.cli(["user", "import", file]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("Imported 1 user; 1 row rejected.\n");
    expect(res.stderr).toContain("line 2: displayName must not contain a NUL character");
    expect(await listUpns()).toEqual(["ok@contoso.com"]);
  });

  it("an unclosed quote is reported on the line it opens; rows before it are kept", async () => {
    box = await createCliSandbox(await freshDatabase(dialect));
    const file = path.join(box.dataDir, "broken.csv");
    await writeFile(
      file,
      'userPrincipalName,displayName\nana@contoso.com,Ana\n\n"bo@contoso.com,Bo\ncy@contoso.com,Cy\n',
    );
    const res = await box.cli(["user", "import", file]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("Imported 1 user; 1 row rejected.\n");
    expect(res.stderr).toContain(
      'line 4: a "quote" opened on this line is never closed, so nothing after it could be read; close the quote\n',
    );
    expect(await listUpns()).toEqual(["ana@contoso.com"]);
  });

  it("a wrong header imports nothing and says which columns are allowed", async () => {
    box = await createCliSandbox(await freshDatabase(dialect));
    const file = path.join(box.dataDir, "header.csv");
    await writeFile(file, "upn,name\nana@contoso.com,Ana\n");
    const res = await box.cli(["user", "import", file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(
      "line 1: the first line must be a header naming columns from userPrincipalName, displayName, mail, mobilePhone, roles (userPrincipalName and displayName required); not known: upn, name. Nothing was imported.",
    );
    // Not "1 row rejected ... the other rows are already imported": nothing was.
    expect(res.stdout).toBe("Imported nothing: the header line is not one PinDesk can read.\n");
    expect(res.stderr).toContain("next step: fix the header line as described above");
    expect(res.stderr).not.toContain("already imported");
    expect(await listUpns()).toEqual([]);
  });

  it("shows a progress bar on a terminal and a plain summary; all-good files exit 0", async () => {
    box = await createCliSandbox(await freshDatabase(dialect));
    const file = path.join(box.dataDir, "ok.csv");
    await writeFile(
      file,
      "\uFEFFuserPrincipalName,displayName\r\nana@contoso.com,Ana\r\nbo@contoso.com,Bo\r\n",
    );
    const res = await box.cli(["user", "import", file], { ttyStderr: true });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain("Importing [");
    expect(res.stderr).toContain("2/2 users");
    expect(res.stdout).toBe("Imported 2 users; 0 rows rejected.\n");
    expect(await listUpns()).toEqual(["ana@contoso.com", "bo@contoso.com"]);
  });
});
