import { escapeHtml } from '@bilten/platform';
import { describe, expect, it } from 'vitest';
import {
  addressInUseMail,
  linkTo,
  passwordResetMail,
  singleLine,
  validity,
  verificationMail,
} from '../src/domain/mail-templates.ts';
import { messageIdOf } from '../src/domain/transactional-mail.ts';

const issuedAt = '2026-11-24T21:00:00.000Z';

describe('mail templates', () => {
  it('escapes the five HTML metacharacters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });

  it('folds CR, LF, other control characters and line separators into single spaces', () => {
    expect(singleLine(' Eve\r\nBcc: x@y\u2028\tZ\u0000 ')).toBe('Eve Bcc: x@y Z');
  });

  it('joins the web address and path whatever the trailing slashes, and URL-encodes the token', () => {
    expect(linkTo('https://web.example/app//', '/verify-email', 'a b/c+d=&e')).toBe(
      'https://web.example/app/verify-email?token=a%20b%2Fc%2Bd%3D%26e',
    );
  });

  it('says how long a link is valid', () => {
    const from = new Date(issuedAt);
    const after = (ms: number) => new Date(from.getTime() + ms);
    expect(validity(from, after(7 * 24 * 3_600_000 - 500))).toBe('7 days');
    expect(validity(from, after(24 * 3_600_000 + 120))).toBe('24 hours');
    expect(validity(from, after(3_600_000 - 80))).toBe('1 hour');
    expect(validity(from, after(30 * 60_000))).toBe('30 minutes');
  });

  it('greets without a name when there is none, and puts the same link in text and HTML', () => {
    const mail = verificationMail(
      {
        email: 'a@example.test',
        displayName: ' \r\n ',
        token: 't<k>',
        expiresAt: '2026-11-25T21:00:00.000Z',
        issuedAt,
        newAccount: true,
      },
      'http://localhost:3000',
    );
    expect(mail.text.startsWith('Hello,\n')).toBe(true);
    expect(mail.to).toEqual({ name: '', address: 'a@example.test' });
    expect(mail.link).toBe('http://localhost:3000/verify-email?token=t%3Ck%3E');
    expect(mail.text).toContain(mail.link);
    expect(mail.html).toContain(`href="${mail.link}"`);
    expect(mail.text).toContain('expires in 24 hours');
  });

  it('renders the password reset with its validity and the "not you" note', () => {
    const mail = passwordResetMail(
      {
        email: 'a@example.test',
        displayName: 'Amra',
        token: 'r',
        expiresAt: '2026-11-24T22:00:00.000Z',
        issuedAt,
      },
      'https://tickets.example',
    );
    expect(mail).toMatchObject({
      template: 'password-reset',
      subject: 'Reset your Bilten password',
      link: 'https://tickets.example/reset-password?token=r',
    });
    expect(mail.text).toContain('expires in 1 hour.');
    expect(mail.html).toContain('If it wasn&#39;t you, ignore this email');
  });

  it('tells an owner of an attempt on their address, plainly: no link, nothing to click', () => {
    const signUp = addressInUseMail({
      email: 'a@example.test',
      displayName: '<b>Amra</b>',
      attempt: 'sign_up',
    });
    expect(signUp).toMatchObject({
      template: 'address-in-use',
      to: { name: '<b>Amra</b>', address: 'a@example.test' },
      subject: 'Someone tried to use your email address on Bilten',
    });
    expect(signUp.link).toBeUndefined();
    expect(signUp.text).toContain('Someone tried to create a Bilten account with this email address.');
    expect(signUp.text).toContain('sign in with this address and your password, or reset your password');
    expect(signUp.text).not.toMatch(/https?:/);
    expect(signUp.html).not.toContain('<a ');
    expect(signUp.html).toContain('Hello &lt;b&gt;Amra&lt;/b&gt;,');
    const change = addressInUseMail({
      email: 'a@example.test',
      displayName: 'Amra',
      attempt: 'email_change',
    });
    expect(change.text).toContain('Someone tried to move another Bilten account to this email address.');
  });

  it('derives the Message-ID domain from the sender', () => {
    expect(messageIdOf('0193', 'Bilten <no-reply@mail.bilten.example>')).toBe('<0193@mail.bilten.example>');
    expect(messageIdOf('0193', 'tickets@bilten.example')).toBe('<0193@bilten.example>');
  });
});
