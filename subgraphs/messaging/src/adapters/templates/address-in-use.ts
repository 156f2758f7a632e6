import type { KindTemplate } from './kind-template.ts';

/** No link: anyone can make us send this, so it must lead nowhere. */
export const addressInUse: KindTemplate<'addressInUse'> = {
  strings: {
    en: {
      subject: 'Someone tried to use your email address on Bilten',
      heading: 'Someone tried to use your email address',
      intro:
        "{% if attempt == 'sign_up' %}Someone tried to create a Bilten account with this email address. You already have one, so nothing was created and nothing changed.{% else %}Someone tried to move another Bilten account to this email address. It stays with your account, and nothing changed.{% endif %}",
      yours:
        'If it was you: sign in with this address and your password, or reset your password if you have forgotten it.',
      ignore: "If it wasn't you, you can ignore this email: your account stays as it is.",
      shortTitle: 'Someone tried to use your email address',
      shortBody: 'Nothing changed: your address stays with your account.',
    },
    bs: {
      subject: 'Neko je pokušao koristiti vašu e-mail adresu na Biltenu',
      heading: 'Neko je pokušao koristiti vašu e-mail adresu',
      intro:
        "{% if attempt == 'sign_up' %}Neko je pokušao otvoriti Bilten račun s ovom e-mail adresom. Vi već imate račun, pa ništa nije otvoreno niti promijenjeno.{% else %}Neko je pokušao prebaciti drugi Bilten račun na ovu e-mail adresu. Ona ostaje uz vaš račun i ništa se nije promijenilo.{% endif %}",
      yours:
        'Ako ste to bili vi: prijavite se ovom adresom i svojom lozinkom ili promijenite lozinku ako ste je zaboravili.',
      ignore: 'Ako to niste bili vi, slobodno zanemarite ovaj e-mail: vaš račun ostaje kakav jeste.',
      shortTitle: 'Neko je pokušao koristiti vašu e-mail adresu',
      shortBody: 'Ništa se nije promijenilo: adresa ostaje uz vaš račun.',
    },
  },
  blocks: [{ text: 'intro' }, { text: 'yours' }, { text: 'ignore' }],
  url: () => null,
  sample: { attempt: 'sign_up' },
};
