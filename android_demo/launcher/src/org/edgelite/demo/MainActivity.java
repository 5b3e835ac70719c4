package org.edgelite.demo;

import android.app.Activity;
import android.app.PendingIntent;
import android.content.Intent;
import android.content.pm.PackageManager;
import android.os.Build;
import android.os.Bundle;
import android.view.View;
import android.widget.Button;
import android.widget.LinearLayout;
import android.widget.ScrollView;
import android.widget.TextView;

/**
 * Runs the edgelite classifier inside Termux and shows its output.
 *
 * <p>The classifier (android_demo/classify.py) runs in Termux's Python; this activity only
 * sends Termux's RUN_COMMAND intent (bash android_demo/termux/run.sh --delegate X) with a
 * PendingIntent for the result, and prints the result bundle (stdout, stderr, exit code).
 * Setup on the phone: docs/android.md.
 */
public class MainActivity extends Activity {
    static final String TERMUX_PACKAGE = "com.termux";
    static final String RUN_COMMAND_SERVICE = "com.termux.app.RunCommandService";
    static final String ACTION_RUN_COMMAND = "com.termux.RUN_COMMAND";
    static final String EXTRA_PATH = "com.termux.RUN_COMMAND_PATH";
    static final String EXTRA_ARGUMENTS = "com.termux.RUN_COMMAND_ARGUMENTS";
    static final String EXTRA_WORKDIR = "com.termux.RUN_COMMAND_WORKDIR";
    static final String EXTRA_BACKGROUND = "com.termux.RUN_COMMAND_BACKGROUND";
    static final String EXTRA_PENDING_INTENT = "com.termux.RUN_COMMAND_PENDING_INTENT";
    static final String RESULT_BUNDLE = "result";
    static final String PERMISSION = "com.termux.permission.RUN_COMMAND";
    static final String TERMUX_HOME = "/data/data/com.termux/files/home";
    static final String BASH = "/data/data/com.termux/files/usr/bin/bash";
    static final String RUN_SCRIPT = TERMUX_HOME + "/edgelite/android_demo/termux/run.sh";
    static final String ACTION_RESULT = "org.edgelite.demo.RESULT";
    // PendingIntent.FLAG_MUTABLE (API 31; this app compiles against API 23): Termux fills in
    // the result extras, so the PendingIntent must be mutable on Android 12+.
    static final int FLAG_MUTABLE = 0x02000000;

    private TextView output;

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        LinearLayout root = new LinearLayout(this);
        root.setOrientation(LinearLayout.VERTICAL);
        root.setPadding(32, 32, 32, 32);
        TextView title = new TextView(this);
        title.setText("edgelite: classify ~/edgelite-demo/image.jpg in Termux");
        root.addView(title);
        for (final String delegate : new String[] {"auto", "nnapi", "gpu", "cpu"}) {
            Button b = new Button(this);
            b.setText("Run (" + delegate + ")");
            b.setOnClickListener(new View.OnClickListener() {
                @Override
                public void onClick(View v) {
                    run(delegate);
                }
            });
            root.addView(b);
        }
        output = new TextView(this);
        output.setTextIsSelectable(true);
        ScrollView scroll = new ScrollView(this);
        scroll.addView(output);
        root.addView(scroll);
        setContentView(root);
        showResult(getIntent());
    }

    @Override
    protected void onNewIntent(Intent intent) {
        super.onNewIntent(intent);
        showResult(intent);
    }

    private void run(String delegate) {
        if (checkSelfPermission(PERMISSION) != PackageManager.PERMISSION_GRANTED) {
            requestPermissions(new String[] {PERMISSION}, 1);
            output.setText("Grant the Termux RUN_COMMAND permission, then press Run again.");
            return;
        }
        Intent intent = new Intent(ACTION_RUN_COMMAND);
        intent.setClassName(TERMUX_PACKAGE, RUN_COMMAND_SERVICE);
        intent.putExtra(EXTRA_PATH, BASH);
        intent.putExtra(EXTRA_ARGUMENTS, new String[] {RUN_SCRIPT, "--delegate", delegate, "--top", "5"});
        intent.putExtra(EXTRA_WORKDIR, TERMUX_HOME);
        intent.putExtra(EXTRA_BACKGROUND, true);
        Intent result = new Intent(this, MainActivity.class).setAction(ACTION_RESULT);
        int flags = PendingIntent.FLAG_UPDATE_CURRENT | (Build.VERSION.SDK_INT >= 31 ? FLAG_MUTABLE : 0);
        intent.putExtra(EXTRA_PENDING_INTENT, PendingIntent.getActivity(this, 1, result, flags));
        try {
            startService(intent);
            output.setText("Running in Termux (" + delegate + ")...");
        } catch (SecurityException | IllegalStateException e) {
            output.setText("Could not reach Termux: " + e.getMessage()
                    + "\nIs Termux installed, and is allow-external-apps=true in ~/.termux/termux.properties?");
        }
    }

    private void showResult(Intent intent) {
        if (intent == null || !ACTION_RESULT.equals(intent.getAction())) {
            return;
        }
        Bundle b = intent.getBundleExtra(RESULT_BUNDLE);
        if (b == null) {
            output.setText("Termux sent no result.");
            return;
        }
        StringBuilder text = new StringBuilder();
        text.append(b.getString("stdout", ""));
        String err = b.getString("stderr", "");
        if (!err.isEmpty()) {
            text.append("\n[stderr]\n").append(err);
        }
        text.append("\n[exit code ").append(b.getInt("exitCode", -1)).append("]");
        String errmsg = b.getString("errmsg", "");
        if (!errmsg.isEmpty()) {
            text.append("\n[Termux] ").append(errmsg);
        }
        output.setText(text.toString());
    }
}
